/**
 * A small human docs page rendered from the OpenAPI document: no scripts,
 * no external assets (the CSP forbids both).
 */
import type { RequestHandler } from 'express';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Serves /docs: every route with its summary and who may call it. */
export function docsPage(openapi: Record<string, unknown>): RequestHandler {
  const paths = openapi.paths as Record<string, Record<string, { summary: string; tags: string[]; security: unknown[]; 'x-custos-permission'?: string }>>;
  const rows: string[] = [];
  for (const [p, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const who = op['x-custos-permission'] ?? (op.security.length ? 'session' : 'public');
      rows.push(`<tr><td>${esc(op.tags[0] ?? '')}</td><td><code>${method.toUpperCase()}</code></td><td><code>${esc(p)}</code></td><td>${esc(op.summary)}</td><td>${esc(who)}</td></tr>`);
    }
  }
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Custos API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}code{font-size:13px}</style>
</head><body><h1>Custos API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are RFC 9457 problem documents with a stable <code>code</code>.</p>
<table><thead><tr><th>area</th><th>method</th><th>path</th><th>what</th><th>who</th></tr></thead><tbody>${rows.join('')}</tbody></table></body></html>`;
  return (_req, res) => {
    res.type('html').send(html);
  };
}
