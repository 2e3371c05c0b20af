/**
 * /docs: the API reference, rendered by Swagger UI (swagger-ui-dist) from
 * /openapi.json. Custos serves the page, Swagger UI's script and stylesheet
 * from node_modules, and a small initializer of its own: nothing from a CDN,
 * no inline script or style.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import { contentSecurityPolicy } from '../middleware.ts';

const dist = (file: string) => createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`);

/** The only files served under /docs/, and where each comes from. */
const ASSETS = new Map([
  ['swagger-ui.css', dist('swagger-ui.css')],
  ['swagger-ui-bundle.js', dist('swagger-ui-bundle.js')],
  ['swagger-initializer.js', fileURLToPath(new URL('./swagger-initializer.js', import.meta.url))],
]);

/**
 * The page's policy, stricter than helmet's defaults (which allow inline
 * styles, forms and a base URL to 'self'): scripts and stylesheets only from
 * this origin; `connect-src 'self'` for fetching /openapi.json; `img-src
 * data:` because Swagger UI draws its icons as data: URIs. Swagger UI
 * needs nothing else: React sets its `style` props through the CSSOM, which
 * style-src does not govern, and it neither evaluates strings as code nor
 * loads fonts. Every other response keeps the baseline policy (default-src
 * 'none').
 */
export const DOCS_CSP = contentSecurityPolicy({
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
});

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Custos API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<noscript><p>The API reference needs JavaScript; the document itself is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p></noscript>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-initializer.js"></script>
</body>
</html>
`;

/** GET /docs and its three assets, to be mounted with `app.get(path, handler)`. */
export function docsPages(): { path: string; handler: RequestHandler }[] {
  const page: RequestHandler = (_req, res) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.type('html').send(PAGE);
  };
  const asset: RequestHandler = (req, res, next) => {
    const file = ASSETS.get(req.params.asset as string);
    if (!file) return next();
    // Public and static: the browser may keep them, but asks each time (If-Modified-Since; the app sends no ETags).
    res.sendFile(file, { cacheControl: false, headers: { 'Cache-Control': 'no-cache' } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
  return [
    { path: '/docs', handler: page },
    { path: '/docs/:asset', handler: asset },
  ];
}
