/**
 * The text PostgreSQL's jsonb output gives for a JSON value, computed in
 * process: what `(value)::jsonb::text` returns for `JSON.stringify(value)`.
 * The chain encodings (custos_decision_enc) are jsonb texts, so a writer
 * that renders them this way can link records without the database
 * re-encoding each one.
 *
 * jsonb renders objects with their keys ordered by byte length, then
 * bytewise (duplicates impossible here), `", "` between items and `": "`
 * after keys; strings escaped as JSON.stringify escapes them (the same six
 * short escapes, `\u00xx` in lower case for other control characters,
 * everything else raw); numbers as `numeric` prints them, in plain notation.
 * What jsonb cannot hold (a NUL character, a lone surrogate) has no
 * rendering: {@link NotRenderableError}, and the caller lets the database
 * link that batch.
 */

/** A value jsonb cannot hold as given. */
export class NotRenderableError extends Error {}

// A NUL, or a surrogate (then checked for pairing).
const SUSPECT = /[\0\ud800-\udfff]/;
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string as jsonb prints it. */
export function jsonbString(s: string): string {
  if (SUSPECT.test(s) && (s.includes('\0') || LONE.test(s))) throw new NotRenderableError('a string jsonb cannot hold');
  return JSON.stringify(s);
}

/** A finite number as `numeric` prints it: JSON.stringify's digits, without an exponent. */
export function jsonbNumber(n: number): string {
  const t = JSON.stringify(n);
  const e = t.indexOf('e');
  if (e < 0) return t;
  const neg = t[0] === '-';
  const mantissa = t.slice(neg ? 1 : 0, e);
  const exp = Number(t.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  // Where the decimal point falls, counted in digits from the left.
  const point = (dot < 0 ? mantissa.length : dot) + exp;
  let plain: string;
  if (point <= 0) plain = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) plain = digits + '0'.repeat(point - digits.length);
  else plain = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (neg ? '-' : '') + plain;
}

function byteLength(s: string): number {
  // ASCII keys (the usual case) are one byte per character.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.length : Buffer.byteLength(s);
}

/** jsonb's key order: shorter (in bytes) first, then bytewise. */
export function compareKeys(a: string, b: string): number {
  const la = byteLength(a);
  const lb = byteLength(b);
  if (la !== lb) return la - lb;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The jsonb text of `value` as JSON.stringify would send it (toJSON applied,
 * undefined and functions dropped from objects and null in arrays).
 */
export function jsonbText(value: unknown, key = ''): string {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(k: string): unknown }).toJSON(key);
  switch (typeof v) {
    case 'string':
      return jsonbString(v);
    case 'number':
      return Number.isFinite(v) ? jsonbNumber(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      throw new NotRenderableError('a bigint');
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        if (v.length === 0) return '[]';
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          const item = v[i] as unknown;
          out += (i ? ', ' : '') + (item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : jsonbText(item, String(i)));
        }
        return out + ']';
      }
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined && typeof o[k] !== 'function' && typeof o[k] !== 'symbol');
      if (keys.length === 0) return '{}';
      keys.sort(compareKeys);
      let out = '{';
      for (let i = 0; i < keys.length; i++) out += (i ? ', ' : '') + jsonbString(keys[i]!) + ': ' + jsonbText(o[keys[i]!], keys[i]);
      return out + '}';
    }
    default:
      // undefined, functions and symbols at the top: JSON.stringify gives no text at all.
      throw new NotRenderableError(`a ${typeof v}`);
  }
}
