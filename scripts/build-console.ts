/**
 * Builds the web console (src/console) into dist/console when its sources
 * changed since the last build; `npm start` runs it first (prestart), and so
 * does the test run (test/support/global-setup.ts). A build takes about a
 * second; an unchanged tree takes a hash of the sources.
 *
 * A production install without dev dependencies has no Vite: it keeps the
 * build it was given (the Dockerfile builds before pruning), or, with none,
 * starts without a console (/console answers 503).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = path.join(root, 'src/console');
const out = path.join(root, 'dist/console');
const stamp = path.join(out, '.source-hash');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The sources, and the lock file (a new Preact or CodeMirror is a new build). */
export function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [...files(src).sort(), path.join(root, 'package-lock.json')]) {
    h.update(path.relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

export async function buildConsole(o: { quiet?: boolean } = {}): Promise<'built' | 'current' | 'unavailable'> {
  const hash = sourceHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return 'current';
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    if (!o.quiet) console.warn(existsSync(path.join(out, 'index.html')) ? 'console: Vite is not installed; serving the existing build' : 'console: Vite is not installed and there is no build; /console will answer 503');
    return 'unavailable';
  }
  await vite.build({ configFile: path.join(src, 'vite.config.ts'), logLevel: o.quiet ? 'silent' : 'warn' });
  writeFileSync(stamp, hash);
  if (!o.quiet) console.log('console: built dist/console');
  return 'built';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildConsole();
}
