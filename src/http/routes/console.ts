/**
 * /console: the web console (src/console), served from its build in
 * dist/console on the API's own origin, so it needs no CORS and carries the
 * same session tokens as any other client.
 *
 * - `/console` and every client-side path under it (`/console/decisions`…)
 *   answer index.html, never cached, so a new build is seen at once.
 * - `/console/assets/<hashed name>` are the build's script and stylesheet,
 *   cached for a year: their names change with their content.
 * - The page's Content-Security-Policy allows scripts, styles and fetches
 *   from this origin only, no inline code, no frames, no forms posting
 *   anywhere, and no <base>. Every other response keeps the baseline policy.
 *
 * Without a build (a production install that skipped it) the console
 * answers 503 with how to build it; the API is unaffected.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import { contentSecurityPolicy } from '../middleware.ts';
import { problem, sendProblem } from '../problem.ts';

export const CONSOLE_DIST = fileURLToPath(new URL('../../../dist/console/', import.meta.url));

export const CONSOLE_CSP = contentSecurityPolicy({
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  manifestSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
});

// Client-side routes: letters, digits and the separators ids use; no dots, so no file names.
const APP_PATH = /^\/console(\/[A-Za-z0-9_\-/:%]*)?$/;
const ASSET = /^[A-Za-z0-9_-]+\.(js|css|woff2|svg|png)$/;

export function consolePages(dist = CONSOLE_DIST): { path: string | RegExp; handler: RequestHandler }[] {
  const index = path.join(dist, 'index.html');
  const page: RequestHandler = (req, res, next) => {
    if (!APP_PATH.test(req.path)) return next();
    if (!existsSync(index)) {
      return sendProblem(res, problem(503, 'unavailable', 'The console is not built: run `npm run build:console` (npm start does it).', res.locals.requestId as string));
    }
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.sendFile(index, { cacheControl: false, headers: { 'Cache-Control': 'no-cache' } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
  const asset: RequestHandler = (req, res, next) => {
    const name = req.params.asset as string;
    if (!ASSET.test(name)) return next();
    res.sendFile(path.join(dist, 'assets', name), { cacheControl: false, headers: { 'Cache-Control': 'public, max-age=31536000, immutable' } }, (err) => {
      if (err && !res.headersSent) next();
    });
  };
  return [
    { path: '/console/assets/:asset', handler: asset },
    { path: /^\/console(\/.*)?$/, handler: page },
  ];
}
