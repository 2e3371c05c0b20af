/**
 * Structured JSON logs (pino). Anything that may carry a secret is censored
 * by key, so a careless `log.info({ body })` cannot leak a password, code,
 * token or key.
 */
import pino from 'pino';

/** The logger type passed to every module. */
export type Logger = pino.Logger;

/** Keys whose values never reach a log line: at the top of a line, or one level down in any object on it. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'code',
  'secret',
  'enrollment_secret',
  'token',
  'mfa_token',
  'access_token',
  'refresh_token',
  'client_secret',
  'key',
]);

/** Request headers that carry credentials, censored under `headers` and `req.headers`. */
const SECRET_HEADERS = ['authorization', 'cookie'] as const;

const CENSOR = '[redacted]';

/** Errors already serialized (and censored) by `redactLine`: pino's error serializer passes them through. */
const serialized = new WeakSet<object>();

function serializeError(value: unknown): unknown {
  return typeof value === 'object' && value !== null && serialized.has(value) ? value : pino.stdSerializers.err(value as Error);
}

/** `value` with each of `keys` it has censored, copied only then; anything not an object as it is. */
function censored<T>(value: T, keys: Iterable<string>): T {
  if (typeof value !== 'object' || value === null) return value;
  let out: Record<string, unknown> | undefined;
  for (const k of keys) if (k in value) (out ??= { ...(value as object) })[k] = CENSOR;
  return (out as T | undefined) ?? value;
}

/**
 * One log line (or a child's bindings) with every secret censored, copied
 * only where something is censored: the caller's objects are never changed,
 * and a line with nothing secret (the access log's) costs a key lookup per
 * field and no allocation. It censors what pino's path redaction did with
 * `key`, `*.key`, `req.headers.<h>` and `headers.<h>` for each secret key
 * and credential header, at a fraction of its cost (that library parsed
 * every path again and cloned the line for every field of every line).
 * An error under `err` is serialized first, as pino did before redacting,
 * so its own properties (a `code`, say) are censored like any object's.
 */
export function redactLine(line: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in line) {
    if (!Object.hasOwn(line, key)) continue;
    const value = line[key];
    let safe = value;
    if (SECRET_KEYS.has(key)) {
      if (value !== undefined) safe = CENSOR;
    } else if (typeof value === 'object' && value !== null) {
      const isError = key === 'err' && typeof (value as { message?: unknown }).message === 'string';
      let v = censored<object>(isError ? pino.stdSerializers.err(value as Error) : value, SECRET_KEYS);
      if (key === 'headers') v = censored(v, SECRET_HEADERS);
      else if (key === 'req' && 'headers' in v) {
        const h = censored(v.headers, SECRET_HEADERS);
        if (h !== v.headers) v = { ...v, headers: h };
      }
      // Serialized here: pino's error serializer passes it through.
      if (isError) serialized.add(v);
      safe = v;
    }
    if (safe !== value) (out ??= { ...line })[key] = safe;
  }
  return out ?? line;
}

/** Creates the process logger. `destination` defaults to stdout. */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const log = pino(
    {
      level: options.level,
      base: { service: 'custos' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError },
      formatters: { level: (label) => ({ level: label }), log: redactLine },
    },
    options.destination,
  );
  // A child's bindings are rendered once, when it is made (pino's bindings formatter sees only the root's): censored
  // here. Children inherit this method, so their children are censored too.
  const child = log.child;
  log.child = function <L extends string = never>(this: Logger, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions<L>) {
    return child.call<Logger, [pino.Bindings, pino.ChildLoggerOptions<L> | undefined], pino.Logger<L>>(this, redactLine(bindings), childOptions);
  };
  return log;
}
