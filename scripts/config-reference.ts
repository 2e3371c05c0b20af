/**
 * Writes docs/configuration.md from the environment schema in src/config.ts,
 * as /openapi.json is generated from the route declarations: each variable's
 * default and accepted values come from its zod schema, its meaning from
 * `.describe()` and its example from `.meta()`. `npm run docs:config`
 * regenerates the page; test/docs/configuration.test.ts fails when the
 * committed page differs from what this renders.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { envSchema } from '../src/config.ts';

/** Where the generated page lives, from the repository root. */
export const CONFIGURATION_PAGE = 'docs/configuration.md';

/** What `.meta()` carries for a variable besides its description. */
interface VariableMeta {
  description?: string;
  example?: string;
  /** What holds when the variable is unset and the schema has no default. */
  unset?: string;
}

/** The JSON Schema facets the accepted-values column is read from. */
interface InputFacets {
  type?: string;
  enum?: string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
const code = (s: string) => `\`${s}\``;

/** The values a variable accepts, in words, from the schema of its input. */
function accepted(f: InputFacets): string {
  if (f.enum) return f.enum.map(code).join(', ');
  if (f.type === 'integer' || f.type === 'number') {
    const kind = f.type === 'integer' ? 'integer' : 'number';
    if (f.exclusiveMinimum === 0 && (f.maximum === undefined || f.maximum === Number.MAX_SAFE_INTEGER)) return `positive ${kind}`;
    if (f.minimum !== undefined && f.maximum !== undefined) return `${kind} ${f.minimum}–${f.maximum}`;
    return kind;
  }
  if (f.format === 'uri') return 'URL';
  if (f.pattern && f.pattern.length <= 40) return `matching ${code(f.pattern)}`;
  if (f.pattern) return 'see the meaning';
  if (f.minLength && f.minLength > 1) return `at least ${f.minLength} characters`;
  return 'text';
}

/** The default column: the schema's default, or what holds when unset. */
function defaultOf(schema: z.ZodType, meta: VariableMeta): string {
  if (schema instanceof z.ZodDefault) {
    const value: unknown = schema.def.defaultValue;
    return value === '' ? '— (none)' : code(String(value));
  }
  return meta.unset ?? '—';
}

/** The Markdown of docs/configuration.md. */
export function renderConfigurationReference(schemaOfEnv: z.ZodObject = envSchema): string {
  const rows: string[] = [];
  for (const [name, field] of Object.entries(schemaOfEnv.shape)) {
    const schema = field as z.ZodType;
    const meta = (z.globalRegistry.get(schema) ?? {}) as VariableMeta;
    if (!meta.description || !meta.example) throw new Error(`${name} needs .describe() and .meta({ example }) in src/config.ts`);
    const facets = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as InputFacets;
    rows.push(`| ${code(name)} | ${cell(defaultOf(schema, meta))} | ${cell(accepted(facets))} | ${cell(meta.example.startsWith('(') ? meta.example : code(meta.example))} | ${cell(meta.description)} |`);
  }
  return [
    '# Configuration',
    '',
    '<!-- Generated from the environment schema in src/config.ts by `npm run docs:config`; edit the schema, not this page. -->',
    '',
    'Back to the [README](../README.md).',
    '',
    'Custos reads its configuration from the environment once at start-up and',
    'validates it; an invalid value or an unsafe combination stops start-up with',
    'a message naming what to set. An empty variable counts as unset.',
    '',
    '| variable | default | accepts | example | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    'Combinations refused at start-up: `DATABASE_URL` with `DATABASE_URL_FILE`;',
    '`CUSTOS_ENCRYPTION_KEY` with `CUSTOS_ENCRYPTION_KEY_FILE`; one of the two',
    'TLS files without the other; `HOST` beyond loopback without TLS files, a',
    'trusted proxy or `CUSTOS_ALLOW_INSECURE_BIND` (HIPAA §164.312(e)(1)); a',
    'hop count or `loopback` as the trusted proxy of such a `HOST`; no',
    'encryption key in production or with any `DATABASE_URL`; `CUSTOS_WEBHOOK_URL`',
    'without `CUSTOS_WEBHOOK_SECRET`; an IP address as `CUSTOS_WEBAUTHN_RP_ID`;',
    'a WebAuthn origin that is not https (other than localhost).',
    '',
    'With the embedded database and no key configured, a key is generated once',
    'into `CUSTOS_DATA_DIR/encryption.key` (mode 0600) and the start-up log says',
    'so. Outside that case (production, or any `DATABASE_URL`) a missing key',
    'refuses start-up. Secrets are only ever read from the environment or files,',
    'never from the repository.',
    '',
    'The `custos` command reads the same variables (its own log lines go to',
    'standard error, at `warn` unless `CUSTOS_LOG_LEVEL` says otherwise). Its',
    'policy commands against a running server (`custos policy push`, `rollback`,',
    '`history`, `simulate`, `diff --from`) also read `CUSTOS_SERVER` (the base',
    'URL, or `--server`) and `CUSTOS_TOKEN` (a session token, or `--token`).',
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = fileURLToPath(new URL(`../${CONFIGURATION_PAGE}`, import.meta.url));
  writeFileSync(target, renderConfigurationReference());
  process.stdout.write(`wrote ${CONFIGURATION_PAGE}\n`);
}
