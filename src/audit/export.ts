/**
 * Exports of log rows as NDJSON or CSV, written batch by batch to any
 * writable stream with backpressure: memory is bounded by one batch, never
 * by the number of rows.
 *
 * CSV is csv-stringify's RFC 4180 (CRLF line ends; a field holding a comma,
 * quote, CR or LF is quoted, quotes doubled), with a header row. Arrays and
 * objects are written as JSON text, dates as ISO 8601, booleans as
 * true/false. A cell that a spreadsheet would read as a formula (starting
 * with = + - @ TAB or CR, OWASP "CSV injection") is prefixed with a single
 * quote, so it is shown as text and never evaluated. The rule is ours, not
 * csv-stringify's `escape_formulas` (which lets negative numbers through
 * and adds full-width forms).
 */
import type { Writable } from 'node:stream';
import { stringify, type Options } from 'csv-stringify/sync';

/** Export formats. */
export type ExportFormat = 'ndjson' | 'csv';

/** Content types of the formats. */
export const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** Cell text that starts like a formula gets a leading quote (before csv-stringify quotes the field). */
const neutralised = (s: string) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);

const CSV: Options = {
  record_delimiter: 'windows',
  // Quote a field holding a lone CR or LF too (with an explicit delimiter, csv-stringify only looks for CRLF).
  quote_record_delimiter: true,
  cast: {
    string: neutralised,
    number: (v) => neutralised(String(v)),
    bigint: (v) => neutralised(String(v)),
    boolean: String,
    date: (v) => neutralised(v.toISOString()),
    object: (v) => neutralised(JSON.stringify(v)),
  },
};

/**
 * Rows as CSV records (CRLF after each), the named columns in order; with
 * `header`, the column names first (written even when there are no rows).
 */
export function csvRecords(rows: readonly Record<string, unknown>[], columns: readonly string[], header = false): string {
  return stringify(rows as Record<string, unknown>[], { ...CSV, columns: columns as string[], header });
}

/** Options of {@link writeExport}. */
export interface WriteExportOptions {
  format: ExportFormat;
  /** Column names, in order (the CSV header and the order of each record). */
  columns: readonly string[];
  batches: AsyncIterable<Record<string, unknown>[]>;
  out: Writable;
}

/** What an export wrote. */
export interface ExportResult {
  rows: number;
  /** False when the destination went away (client disconnected) before the end. */
  complete: boolean;
}

/** Resolves true once `out` can take more, false if it closes or fails first. */
export function drained(out: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onClose);
  });
}

/**
 * Writes every batch to `out`, waiting for 'drain' whenever the stream's
 * buffer is full. Does not end `out` (the caller may add a trailer or
 * record what was written first). Stops early, closing the source's cursor,
 * if `out` is destroyed.
 */
export async function writeExport(o: WriteExportOptions): Promise<ExportResult> {
  let rows = 0;
  const gone = () => o.out.destroyed || o.out.writableEnded;
  if (o.format === 'csv' && !o.out.write(csvRecords([], o.columns, true)) && !(await drained(o.out))) return { rows, complete: false };
  for await (const batch of o.batches) {
    if (gone()) return { rows, complete: false };
    let chunk = '';
    if (o.format === 'csv') chunk = csvRecords(batch, o.columns);
    else for (const r of batch) chunk += JSON.stringify(pick(r, o.columns)) + '\n';
    rows += batch.length;
    if (!o.out.write(chunk) && !(await drained(o.out))) return { rows, complete: false };
  }
  return { rows, complete: !gone() };
}

function pick(r: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) out[c] = r[c] ?? null;
  return out;
}
