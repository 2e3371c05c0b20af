/**
 * Builds the console into dist/console, served by Custos at /console
 * (src/http/routes/console.ts). scripts/build-console.ts runs it before
 * `npm start` and before the tests, only when a source changed.
 *
 * The output has no inline script or style: Vite emits one module script
 * and one stylesheet, both files under /console/assets/, and the module
 * preload polyfill (an inline-capable helper) is turned off, so the page
 * runs under `script-src 'self'; style-src 'self'`.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console/', import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    // Hashed file names: assets are cached for good, index.html never.
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
});
