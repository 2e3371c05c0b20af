/**
 * Exports of log rows as NDJSON or CSV, written batch by batch to any
 * writable stream with backpressure: memory is bounded by one batch, never
 * by the number of rows.
 *
 * CSV follows RFC 4180 (CRLF line ends; a field holding a comma, quote, CR or
 * LF is quoted, quotes doubled), with a header row. Arrays and objects are
 * written as JSON text. A cell that a spreadsheet would read as a formula
 * (starting with = + - @ TAB or CR, OWASP "CSV injection") is prefixed with a
 * single quote, so it is shown as text and never evaluated.
 */
import type { Writable } from 'node:stream';

/** Export formats. */
export type ExportFormat = 'ndjson' | 'csv';

/** Content types of the formats. */
export const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** A value as CSV cell text, before quoting: null empty, structures as JSON. */
function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** One CSV field: neutralised against formula injection, then quoted per RFC 4180 where needed. */
export function csvCell(v: unknown): string {
  let s = cellText(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV record with its CRLF. */
export function csvLine(values: readonly unknown[]): string {
  return values.map(csvCell).join(',') + '\r\n';
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
function drained(out: Writable): Promise<boolean> {
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
  if (o.format === 'csv' && !o.out.write(csvLine(o.columns)) && !(await drained(o.out))) return { rows, complete: false };
  for await (const batch of o.batches) {
    if (gone()) return { rows, complete: false };
    let chunk = '';
    for (const r of batch) {
      chunk += o.format === 'csv' ? csvLine(o.columns.map((c) => r[c])) : JSON.stringify(pick(r, o.columns)) + '\n';
    }
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
