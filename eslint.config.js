import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NO_EXPORT_ALL = { selector: 'ExportAllDeclaration', message: 'Name what a module exports; no export *.' };
// Express's private app.handle is never replaced: the lanes meet in http/server.ts's request listener.
const NO_HANDLE_OVERRIDE = { selector: 'AssignmentExpression[left.property.name="handle"]', message: 'Do not replace a framework\'s request handler; route in createRequestListener.' };
// Where SQL lives (docs/design-notes.md): each module's postgres/ folder, one file per aggregate, and db/.
const SQL_FOLDERS = ['src/db/**', 'src/*/postgres/**'];
const SQL_MESSAGE = "SQL runs only in a module's postgres/ folder (src/<module>/postgres/<aggregate>.ts) and db/: see docs/design-notes.md.";
// The names from before that rule: a store goes in src/<module>/postgres/, named by its aggregate.
const POSTGRES_FILE_NAMES = ['src/**/postgres.ts', 'src/**/*Postgres.ts'];
const NO_POSTGRES_FILE = { selector: 'Program', message: "No postgres.ts or *Postgres.ts: PostgreSQL code goes in its module's postgres/ folder, one file per aggregate (docs/design-notes.md)." };
// A tagged template on a database handle (sql`…`, tx`…`, this.o.sql`…`, db.owner`…`) is a query.
const NO_SQL = [
  { selector: 'TaggedTemplateExpression[tag.name=/^(sql|tx|q|owner|db)$/]', message: SQL_MESSAGE },
  { selector: 'TaggedTemplateExpression[tag.property.name=/^(sql|owner|appSql)$/]', message: SQL_MESSAGE },
  { selector: 'CallExpression[callee.property.name="unsafe"]', message: SQL_MESSAGE },
];

// What http/ never imports (it gets services, stores and a connection-error test through AppDeps).
const HTTP_PATHS = [{ name: 'postgres', message: 'http/ never talks to the database.' }];
const HTTP_PATTERNS = [
  { group: ['**/db/*'], message: 'http/ never reaches the database layer: it gets services, stores and a connection-error test through AppDeps.' },
  { group: ['**/main.ts'], message: 'Import wire.ts; main.ts only starts the server.' },
];
// Routes know no transport (src/http/README.md): a handler gets headers, its validated input and a result to return.
const NO_TRANSPORT = 'Route handlers never see express or node request/response objects: read ctx.headers, return { status, headers, body | stream } (src/http/route.ts).';
const TRANSPORT_PATHS = ['express', 'express-serve-static-core', 'node:http', 'http', 'node:https', 'https', 'node:http2', 'http2'].map((name) => ({ name, message: NO_TRANSPORT }));

export default tseslint.config(
  { ignores: ['node_modules', 'bench/results', '.custos', 'dist', 'coverage'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', NO_EXPORT_ALL, NO_HANDLE_OVERRIDE],
    },
  },
  {
    // Only a module's postgres/ folder and db/ run SQL.
    files: ['src/**/*.ts'],
    ignores: SQL_FOLDERS,
    rules: { 'no-restricted-syntax': ['error', NO_EXPORT_ALL, NO_HANDLE_OVERRIDE, ...NO_SQL] },
  },
  {
    // Nor is a file named the old way, with SQL or without (a re-export shim): its name is the error.
    files: POSTGRES_FILE_NAMES,
    rules: { 'no-restricted-syntax': ['error', NO_EXPORT_ALL, NO_HANDLE_OVERRIDE, NO_POSTGRES_FILE] },
  },
  {
    // A postgres/ file that outgrows this splits along aggregates (files of 100–300 lines, docs/design-notes.md).
    files: ['src/*/postgres/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }] },
  },
  {
    // main.ts is the server's entry point only: what others need is in wire.ts.
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['src/http/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/main.ts'], message: 'Import wire.ts; main.ts only starts the server.' }] }] },
  },
  {
    // The HTTP layer gets services and stores, never a database handle.
    files: ['src/http/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: HTTP_PATHS, patterns: HTTP_PATTERNS }] },
  },
  {
    // Route handlers know no transport (types included), so both lanes serve them as they are.
    // docs.ts and console.ts are exempt: /docs and /console are plain express handlers serving files, not declared routes.
    files: ['src/http/routes/**/*.ts'],
    ignores: ['src/http/routes/docs.ts', 'src/http/routes/console.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [...HTTP_PATHS, ...TRANSPORT_PATHS], patterns: HTTP_PATTERNS }] },
  },
  {
    // Database rows are untyped at the driver boundary; stores map them to typed results.
    files: ['src/*/postgres/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['postgres', 'express', 'node:fs', 'fs'] }] },
  },
  {
    // The console runs in the browser and speaks to Custos only over HTTP: no server module, no node built-in.
    // JSON from the API is typed by the page that reads it.
    files: ['src/console/**/*.ts', 'src/console/**/*.tsx'],
    ignores: ['src/console/vite.config.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:*'], message: 'The console runs in a browser.' },
        { group: ['../../../*', '**/http/**', '**/db/**', '**/engine/**', '**/auth/**', '**/audit/**', '**/wire.ts'], message: 'The console talks to Custos over HTTP only (src/console/api/client.ts).' },
      ] }],
    },
  },
);
