/**
 * What security reviewers read, behind one interface: pages and streams of
 * both logs, the accounting of disclosures, the access review, and the
 * logged requests a policy simulation replays. Routes
 * and commands get an AuditReader, never a database handle; its PostgreSQL
 * implementation is {@link createAuditReader}.
 */
import type { Clock } from '../clock.ts';
import type { Sql } from '../db/client.ts';
import type { FactsStore } from '../decisions/facts.ts';
import type { PolicySnapshot } from '../engine/snapshot.ts';
import type { LoggedRequestSource } from '../policy/simulate.ts';
import { createLoggedRequestSource } from './postgres/loggedRequests.ts';
import { queryLog, streamLog, type LogPage, type LogSource, type QueryLogOptions } from './postgres/query.ts';
import { accessReview, disclosureReport, streamDisclosures, type AccessReview, type DisclosureParams, type DisclosureReport } from './postgres/reports.ts';

type Row = Record<string, unknown>;

/** Reads the logs and the reports made from them. */
export interface AuditReader {
  /** One page of a log, ordered by (time, id). */
  page<F>(source: LogSource<F>, o: QueryLogOptions<F>): Promise<LogPage>;
  /** Every matching row of a log, in bounded batches. */
  stream<F>(source: LogSource<F>, filter: F & { order: 'asc' | 'desc' }): AsyncGenerator<Row[]>;
  /** The accounting of disclosures (§164.528), at most DISCLOSURE_JSON_LIMIT rows. */
  disclosures(p: DisclosureParams): Promise<DisclosureReport>;
  /** Every disclosure row, in bounded batches (CSV). */
  streamDisclosures(p: DisclosureParams): AsyncGenerator<Row[]>;
  /** Who can read each PHI or limited dataset now, and why. */
  accessReview(p: { dataset?: string | undefined }): Promise<AccessReview>;
  /** The logged decision requests a policy simulation replays. */
  loggedRequests: LoggedRequestSource;
}

/** The reader over PostgreSQL: uncached facts and the live policy for reviews. */
export function createAuditReader(o: { sql: Sql; clock: Clock; facts: FactsStore; policy: () => PolicySnapshot }): AuditReader {
  return {
    page: (source, q) => queryLog(o.sql, source, q),
    stream: (source, filter) => streamLog(o.sql, source, filter),
    disclosures: (p) => disclosureReport(o, p),
    streamDisclosures: (p) => streamDisclosures(o, p),
    accessReview: (p) => accessReview(o, p),
    loggedRequests: createLoggedRequestSource(o.sql),
  };
}
