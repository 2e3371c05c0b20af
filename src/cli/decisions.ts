/**
 * `custos decisions query` and `custos decisions export`: the reviewer's
 * decision log queries from a terminal, with the filters, order and paging
 * of `GET /v1/decision-logs` and the formats of its export.
 *
 * Like every CLI command, this connects straight to the database
 * (DATABASE_URL / DATABASE_URL_FILE, or the embedded PostgreSQL of
 * CUSTOS_DATA_DIR): whoever holds the database credentials can run it; no
 * Custos session is involved. Each use is still recorded as an audit event
 * (`audit.query` / `audit.export`, via "cli", with the operating-system user)
 * before any row is shown.
 */
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { writeExport } from '../audit/export.ts';
import { decisionLog, DecisionFilter, filtersUsed, PageParams, queryLog, streamLog } from '../audit/postgres/query.ts';
import { toFieldIssues } from '../http/route.ts';
import { ValidationError } from '../errors.ts';
import { withContext } from './context.ts';

interface FilterOptions {
  principal?: string;
  sponsor?: string;
  dataset?: string;
  project?: string;
  effect?: string;
  purpose?: string;
  rule?: string;
  grant?: string;
  breakGlass?: string;
  decision?: string;
  reason?: string;
  job?: string;
  from?: string;
  to?: string;
  order?: string;
}

function addFilters(cmd: Command): Command {
  return cmd
    .option('--principal <uuid>', 'principal decided for')
    .option('--sponsor <uuid>', "the service's sponsor")
    .option('--dataset <id>', 'dataset id')
    .option('--project <id>', 'project id')
    .option('--effect <allow|deny>', 'effect')
    .option('--purpose <purpose>', 'purpose of use')
    .option('--rule <id>', 'a deciding rule id')
    .option('--grant <uuid>', 'a grant the decision relied on')
    .option('--break-glass <true|false>', 'break-glass decisions only (true) or none (false)')
    .option('--decision <uuid>', 'one decision id')
    .option('--reason <text>', "text in one of a deny's reasons (ignoring case)")
    .option('--job <id>', 'a token jti, or the job_id a token was requested for')
    .option('--from <iso>', 'earliest time, inclusive (ISO 8601)')
    .option('--to <iso>', 'latest time, exclusive (ISO 8601)')
    .option('--order <desc|asc>', 'by time: desc (newest first, default) or asc');
}

/** Parses options with the API's own schema, so the CLI accepts exactly what the API does. */
function parse<T>(schema: z.ZodType<T>, o: FilterOptions, extra: Record<string, unknown> = {}): T {
  const { breakGlass, ...rest } = o;
  const input: Record<string, unknown> = { ...extra };
  for (const k of Object.keys(DecisionFilter.shape)) {
    const v = k === 'break_glass' ? breakGlass : (rest as Record<string, unknown>)[k];
    if (v !== undefined) input[k] = v;
  }
  const r = schema.safeParse(input);
  if (!r.success) {
    const issues = toFieldIssues('option', r.error);
    throw new ValidationError(`Invalid option(s): ${issues.map((i) => `${i.path.replace(/^option\./, '--').replace('_', '-')}: ${i.message}`).join('; ')}`, issues);
  }
  return r.data;
}

const who = () => {
  try {
    return os.userInfo().username;
  } catch {
    return null;
  }
};

/** A plain table: one line per record, the columns a reviewer scans first. */
function table(items: Record<string, unknown>[]): string {
  const head = ['at', 'id', 'principal', 'dataset', 'purpose', 'effect', 'rules', 'grants', 'bg'];
  const rows = items.map((i) => [
    String(i.at),
    String(i.id),
    String(i.principal_id),
    String(i.dataset_id),
    String(i.purpose),
    String(i.effect),
    (i.rules as string[]).join(',') || '-',
    (i.grant_ids as string[]).join(',') || '-',
    i.break_glass ? 'yes' : '',
  ]);
  // Control characters in stored values never reach the terminal as such.
  const clean = (s: string) => s.replace(/[\p{Cc}]/gu, '?');
  const all = [head, ...rows.map((r) => r.map(clean))];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Registers `custos decisions …`. */
export function registerDecisions(program: Command): void {
  const decisions = program.command('decisions').description('query and export the decision log (connects to the database directly)');
  addFilters(decisions.command('query').description('one page of decision records, newest first'))
    .option('--limit <n>', 'records per page (1-1000)', '100')
    .option('--cursor <cursor>', 'next_cursor of the previous page')
    .option('--json', 'print the page as JSON ({items, next_cursor})')
    .action(async (o: FilterOptions & { limit: string; cursor?: string; json?: boolean }) => {
      const q = parse(DecisionFilter.extend(PageParams), o, { limit: o.limit, ...(o.cursor ? { cursor: o.cursor } : {}) });
      const { limit, cursor, ...filter } = q;
      await withContext(async ({ db, wired }) => {
        const page = await queryLog(db.sql, decisionLog, { filter, limit, cursor });
        await wired.audit.record({
          type: 'audit.query',
          outcome: 'success',
          actorId: null,
          details: { via: 'cli', os_user: who(), log: 'decision_log', filters: filtersUsed(filter), limit, page: cursor ? 'next' : 'first', rows: page.items.length },
        });
        if (o.json) process.stdout.write(JSON.stringify(page) + '\n');
        else {
          process.stdout.write(table(page.items));
          if (page.next_cursor) process.stderr.write(`more: --cursor ${page.next_cursor}\n`);
        }
      });
    });
  addFilters(decisions.command('export').description('every matching record as NDJSON or CSV, streamed'))
    .option('--format <ndjson|csv>', 'output format', 'ndjson')
    .option('--out <file>', 'write to a file instead of standard output')
    .action(async (o: FilterOptions & { format: string; out?: string }) => {
      const format = z.enum(['ndjson', 'csv']).safeParse(o.format);
      if (!format.success) throw new ValidationError('Invalid option --format: ndjson or csv', [{ path: 'option.format', message: 'ndjson or csv' }]);
      const filter = parse(DecisionFilter, o);
      await withContext(async ({ db, wired }) => {
        const details = { via: 'cli', os_user: who(), log: 'decision_log', filters: filtersUsed(filter), format: format.data, out: o.out ?? 'stdout' };
        await wired.audit.record({ type: 'audit.export', outcome: 'info', actorId: null, details });
        const out: Writable = o.out ? createWriteStream(o.out, { mode: 0o600 }) : process.stdout;
        const r = await writeExport({ format: format.data, columns: decisionLog.columns, batches: streamLog(db.sql, decisionLog, filter), out });
        if (o.out) {
          out.end();
          await finished(out);
        }
        await wired.audit.record({ type: 'audit.export.completed', outcome: r.complete ? 'success' : 'failure', actorId: null, details: { ...details, rows: r.rows, complete: r.complete } });
        process.stderr.write(`${r.rows} record(s) exported${o.out ? ` to ${o.out}` : ''}\n`);
      });
    });
}
