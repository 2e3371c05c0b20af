/**
 * Verification of the hash-chained logs and their signed checkpoints.
 *
 * For every chain with records (or checkpoints) between two times, the
 * records' sequence range is re-hashed in PostgreSQL with the very encoding
 * the append functions used, in chunks of 100,000 on two connections at once
 * (set-based, so it runs at the speed of the database), and each record's
 * link to its predecessor is checked. The
 * chain's checkpoints are then checked: consecutive, each naming the digest
 * of the one before, signed with an audit key, and matching the record they
 * name. The first problem of each chain is reported exactly: which log,
 * chain, sequence number, record id and what is wrong. Records missing
 * before a chain's first stored one are excused only by a signed retention
 * drop record; an unsigned or wrongly signed one is reported itself.
 *
 * Signatures count only by keys a trusted (pinned) root certified, and key
 * material is read from certificates, never from the key table. With
 * anchors (verifyAnchors.ts), what the database no longer shows — a cut
 * end, a re-signed checkpoint, a removed chain — is reported too.
 */
import type { Sql } from '../../db/client.ts';
import type { ParsedAnchors } from '../anchors.ts';
import { CertifiedKeys } from './certifiedKeys.ts';
import type { ChainedLog } from './chainedWriter.ts';
import { checkpointDigest, checkpointPayload, GENESIS, type CheckpointFields } from '../checkpointFormat.ts';
import { trustedDrops } from './retentionDrops.ts';
import type { TrustedRoots } from '../rootKey.ts';
import { verifyAgainstAnchors, type AnchorSummary } from './verifyAnchors.ts';

/** What can be wrong. */
export type ProblemKind =
  /** The record's content no longer matches its hash (edited), or its hash was rewritten. */
  | 'altered'
  /** Records are missing before this one (deleted). */
  | 'missing'
  /** The record sits at another place in its chain than where it was written (rows swapped or moved). */
  | 'reordered'
  /** A checkpoint names a record that is gone: records were removed from the end of the chain. */
  | 'truncated'
  /** Checkpoints are missing (a gap in their numbering). */
  | 'checkpoint_missing'
  /** A checkpoint does not link to the one before, or names a different head than the chain has. */
  | 'checkpoint_altered'
  /** A checkpoint's signature does not verify. */
  | 'checkpoint_signature'
  /** A checkpoint is signed by a key no trusted root certified (a key inserted into the key table). */
  | 'checkpoint_uncertified'
  /** A chain named by an anchor is not in the database (removed with its registration). */
  | 'chain_missing'
  /** An anchor whose signature does not verify, or is by an uncertified key: it proves nothing. */
  | 'anchor_invalid'
  /** The anchors given could not be read (the anchor file is missing or unreadable). */
  | 'anchors_unreadable'
  /** A retention drop record carries no signature (forged, or written before drop records were signed); it excuses nothing. */
  | 'drop_unsigned'
  /** A retention drop record's signature does not verify; it excuses nothing. */
  | 'drop_signature';

/** One problem, as precisely as it can be placed. */
export interface VerifyProblem {
  log: ChainedLog;
  kind: ProblemKind;
  chain_id: string;
  /** The record (or, for checkpoint problems, the checkpoint number) where it shows: for a truncation, the first missing record. */
  seq: number;
  /** When the problem is a range of records (an edit a later checkpoint reveals, a cut end): its last record; otherwise null. */
  last_seq: number | null;
  record_id: string | null;
  at: string | null;
  detail: string;
}

/** The outcome of a verification. */
export interface VerifyReport {
  ok: boolean;
  from: string;
  to: string;
  records: number;
  chains: number;
  checkpoints: number;
  seconds: number;
  records_per_second: number;
  /** The first problem of each chain with one, oldest first. */
  problems: VerifyProblem[];
  /** What was checked against anchors, when anchors were given. */
  anchors: AnchorSummary | null;
}

/** Progress, for a progress bar. */
export interface VerifyProgress {
  log: ChainedLog;
  chainsDone: number;
  chains: number;
  records: number;
}

const CHUNK = 100_000;

function enc(log: ChainedLog, sql: Sql) {
  return log === 'decision_log' ? sql`custos_decision_enc(d)` : sql`custos_audit_enc(d)`;
}

/** Verifies both logs between `from` (inclusive) and `to` (exclusive), trusting keys certified by `roots`, and against `anchors` if given. */
export async function verifyLogs(
  deps: { sql: Sql; roots: TrustedRoots },
  range: { from: Date; to: Date },
  onProgress?: (p: VerifyProgress) => void,
  options: { parallel?: number; chunk?: number; anchors?: ParsedAnchors } = {},
): Promise<VerifyReport> {
  const started = performance.now();
  const report: VerifyReport = { ok: true, from: range.from.toISOString(), to: range.to.toISOString(), records: 0, chains: 0, checkpoints: 0, seconds: 0, records_per_second: 0, problems: [], anchors: null };
  // Fresh for every run: certificates added since (a rotation elsewhere) are seen.
  const keys = new CertifiedKeys(deps.roots, deps.sql);
  // Key certificates anchored outside the database count even where the database lost them.
  for (const a of options.anchors?.anchors ?? []) if (a.type === 'key') keys.add(a.certificate);
  // Two connections re-hash at once by default: the database does the work, on as many cores as it gets.
  const parallel = options.parallel ?? 2;
  const pruned = new Map<ChainedLog, Date | null>();
  for (const log of ['decision_log', 'audit_events'] as const) pruned.set(log, await verifyLog({ sql: deps.sql, keys }, log, range, report, onProgress, parallel, options.chunk ?? CHUNK));
  if (options.anchors) {
    const a = await verifyAgainstAnchors({ sql: deps.sql, keys }, options.anchors, range, (log) => pruned.get(log) ?? null);
    report.problems.push(...a.problems);
    report.anchors = a.summary;
  }
  report.seconds = (performance.now() - started) / 1000;
  report.records_per_second = report.seconds > 0 ? Math.round(report.records / report.seconds) : report.records;
  report.problems.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? '') || a.chain_id.localeCompare(b.chain_id) || a.seq - b.seq);
  report.ok = report.problems.length === 0;
  return report;
}

/** Verifies one log; returns the end of its signed retention drops (records before it may be gone). */
async function verifyLog(
  deps: { sql: Sql; keys: CertifiedKeys },
  log: ChainedLog,
  range: { from: Date; to: Date },
  report: VerifyReport,
  onProgress: ((p: VerifyProgress) => void) | undefined,
  parallel: number,
  chunkSize: number,
): Promise<Date | null> {
  const { sql } = deps;
  const table = sql(log);
  // The chains in the window: their records' sequence range there, and those with checkpoints there.
  const spans = await sql`
    SELECT chain_id, min(seq)::bigint AS lo, max(seq)::bigint AS hi FROM ${table}
    WHERE at >= ${range.from} AND at < ${range.to} GROUP BY chain_id`;
  const byChain = new Map<string, { lo: number; hi: number }>(spans.map((s) => [s.chain_id as string, { lo: Number(s.lo), hi: Number(s.hi) }]));
  const cpChains = await sql`
    SELECT DISTINCT cp.chain_id FROM audit_checkpoints cp JOIN audit_chains c ON c.id = cp.chain_id
    WHERE c.log = ${log} AND cp.at >= ${range.from} AND cp.at < ${range.to}`;
  for (const c of cpChains) if (!byChain.has(c.chain_id as string)) byChain.set(c.chain_id as string, { lo: 1, hi: 0 });
  // Every chain registered before the window's end, with its head: a chain whose records and checkpoints were all removed is still found.
  const heads = await sql`SELECT id, started_at, head_seq, head_hash FROM audit_chains WHERE log = ${log} AND started_at < ${range.to}`;
  const chainInfo = new Map<string, { startedAt: Date; headSeq: number; headHash: Buffer }>(
    heads.map((h) => [h.id as string, { startedAt: new Date(h.started_at as string), headSeq: Number(h.head_seq), headHash: h.head_hash as Buffer }]),
  );
  for (const [id, h] of chainInfo) if (h.headSeq > 0 && !byChain.has(id)) byChain.set(id, { lo: 1, hi: 0 });
  // Only signed drop records excuse gaps; every other one is a problem of its own.
  const { prunedUntil, untrusted } = await trustedDrops(deps, log);
  for (const d of untrusted) report.problems.push({ log, kind: d.kind, chain_id: 'retention-drops', seq: 0, last_seq: null, record_id: d.partition, at: d.at, detail: d.detail });

  // Every chunk of every chain, re-hashed on `parallel` connections at once.
  const tasks: { chainId: string; a: number; b: number }[] = [];
  for (const [chainId, span] of byChain) for (let a = span.lo; a <= span.hi; a += chunkSize) tasks.push({ chainId, a, b: Math.min(span.hi, a + chunkSize - 1) });
  const firstBad = new Map<string, BadRow>();
  let next = 0;
  let chunksDone = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const t = tasks[next++]!;
      const [chunk] = await sql`
        WITH x AS (
          SELECT d.seq, d.id, d.at, d.prev_hash,
                 d.hash = sha256(d.prev_hash || sha256(convert_to(${enc(log, sql)}, 'UTF8'))) AS intact,
                 lag(d.hash) OVER (ORDER BY d.seq) AS lag_hash,
                 lag(d.seq) OVER (ORDER BY d.seq) AS lag_seq
          FROM ${table} d WHERE d.chain_id = ${t.chainId} AND d.seq BETWEEN ${t.a - 1} AND ${t.b}
        ),
        bad AS (
          SELECT seq, id, at, prev_hash, intact, lag_seq, lag_hash = prev_hash AS linked FROM x
          WHERE seq >= ${t.a} AND (NOT intact OR (lag_seq IS NULL AND seq > 1) OR lag_seq <> seq - 1 OR lag_hash <> prev_hash)
          ORDER BY seq LIMIT 1
        )
        SELECT (SELECT count(*) FROM x WHERE seq >= ${t.a})::bigint AS n,
               (SELECT row_to_json(bad) FROM bad) AS bad`;
      report.records += Number(chunk!.n);
      const bad = chunk!.bad as BadRow | null;
      const prior = firstBad.get(t.chainId);
      if (bad && (!prior || Number(bad.seq) < Number(prior.seq))) firstBad.set(t.chainId, bad);
      chunksDone++;
      onProgress?.({ log, chainsDone: Math.floor((chunksDone / tasks.length) * byChain.size), chains: byChain.size, records: report.records });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, tasks.length)) }, worker));

  for (const chainId of byChain.keys()) {
    report.chains++;
    const bad = firstBad.get(chainId);
    // Retention excuses missing records only in chains that were already writing before the dropped months ended.
    const info = chainInfo.get(chainId);
    const pruned = prunedUntil && info && info.startedAt < prunedUntil ? prunedUntil : null;
    let problem = bad ? await classify(sql, log, chainId, bad, pruned) : undefined;
    problem ??= await verifyCheckpoints(deps, log, chainId, report, pruned);
    if (!problem && info && info.headSeq > 0) problem = await verifyHead(sql, log, chainId, info, pruned);
    if (problem) report.problems.push(problem);
  }
  onProgress?.({ log, chainsDone: byChain.size, chains: byChain.size, records: report.records });
  return prunedUntil;
}

interface BadRow {
  seq: number;
  id: string;
  at: string;
  prev_hash: string;
  intact: boolean;
  lag_seq: number | null;
  linked: boolean | null;
}

const hexOf = (pgBytea: string) => Buffer.from(pgBytea.replace(/^\\x/, ''), 'hex');

async function classify(sql: Sql, log: ChainedLog, chainId: string, bad: BadRow, prunedUntil: Date | null): Promise<VerifyProblem | undefined> {
  const at = new Date(bad.at).toISOString();
  const base = { log, chain_id: chainId, seq: Number(bad.seq), last_seq: null, record_id: bad.id, at };
  if (bad.lag_seq === null && Number(bad.seq) > 1) {
    // Nothing before it: deleted, unless a retention drop removed the months before.
    if (prunedUntil && new Date(bad.at) >= prunedUntil) return undefined;
    return { ...base, kind: 'missing', detail: `records before sequence ${bad.seq} of this chain are missing` };
  }
  if (bad.lag_seq !== null && Number(bad.lag_seq) !== Number(bad.seq) - 1) {
    return { ...base, kind: 'missing', detail: `records ${Number(bad.lag_seq) + 1}–${Number(bad.seq) - 1} of this chain are missing` };
  }
  // Is the predecessor it was written after somewhere else in the chain?
  const [elsewhere] = await sql`SELECT seq FROM ${sql(log)} WHERE chain_id = ${chainId} AND hash = ${hexOf(bad.prev_hash)} LIMIT 1`;
  if (elsewhere && Number(elsewhere.seq) !== Number(bad.seq) - 1) {
    return { ...base, kind: 'reordered', detail: `written after the record now at sequence ${elsewhere.seq}, found at ${bad.seq}` };
  }
  if (!bad.intact) return { ...base, kind: 'altered', detail: 'the stored record does not match its hash' };
  // Intact itself, but its predecessor's hash is not what it was written after: the predecessor was rewritten.
  const [prev] = await sql`SELECT id, at FROM ${sql(log)} WHERE chain_id = ${chainId} AND seq = ${Number(bad.seq) - 1}`;
  return { ...base, seq: Number(bad.seq) - 1, record_id: prev?.id ?? null, at: prev ? new Date(prev.at).toISOString() : at, kind: 'altered', detail: 'the record and its hash were rewritten (the next record no longer links to it)' };
}

/** The chain's registered head must be a stored record with that hash. */
async function verifyHead(sql: Sql, log: ChainedLog, chainId: string, head: { headSeq: number; headHash: Buffer }, prunedUntil: Date | null): Promise<VerifyProblem | undefined> {
  const [rec] = await sql`SELECT id, at, hash FROM ${sql(log)} WHERE chain_id = ${chainId} AND seq = ${head.headSeq}`;
  const base = { log, chain_id: chainId, seq: head.headSeq, last_seq: null };
  if (!rec) {
    const [span] = await sql`SELECT max(seq)::bigint AS hi FROM ${sql(log)} WHERE chain_id = ${chainId}`;
    if (prunedUntil && span?.hi === null) return undefined;
    const first = Number(span?.hi ?? 0) + 1;
    return { ...base, seq: first, last_seq: head.headSeq, record_id: null, at: null, kind: 'truncated', detail: `the chain's head is record ${head.headSeq}; records ${first}–${head.headSeq} are gone` };
  }
  if (!(rec.hash as Buffer).equals(head.headHash)) {
    return { ...base, record_id: rec.id as string, at: new Date(rec.at as string).toISOString(), kind: 'altered', detail: `record ${head.headSeq} differs from the chain's registered head` };
  }
  return undefined;
}

async function verifyCheckpoints(deps: { sql: Sql; keys: CertifiedKeys }, log: ChainedLog, chainId: string, report: VerifyReport, prunedUntil: Date | null): Promise<VerifyProblem | undefined> {
  const { sql } = deps;
  const cps = await sql`
    SELECT cp_seq, upto_seq, head_hash, (extract(epoch FROM at) * 1000)::bigint AS at_ms, prev_digest, kid, signature
    FROM audit_checkpoints WHERE chain_id = ${chainId} ORDER BY cp_seq`;
  let prevDigest: Buffer = GENESIS;
  let expected = 1;
  // The last record an earlier checkpoint vouched for: an edit a later one reveals lies after it.
  let vouched = 0;
  for (const cp of cps) {
    report.checkpoints++;
    const fields: CheckpointFields = { chainId, cpSeq: Number(cp.cp_seq), uptoSeq: Number(cp.upto_seq), headHash: cp.head_hash as Buffer, atMs: Number(cp.at_ms), prevDigest: cp.prev_digest as Buffer };
    const at = new Date(fields.atMs).toISOString();
    const base = { log, chain_id: chainId, seq: fields.cpSeq, last_seq: null, record_id: null, at };
    if (fields.cpSeq !== expected) return { ...base, seq: expected, kind: 'checkpoint_missing', detail: `checkpoint ${expected} of this chain is missing (next found: ${fields.cpSeq})` };
    if (!fields.prevDigest.equals(prevDigest)) return { ...base, kind: 'checkpoint_altered', detail: `checkpoint ${fields.cpSeq} does not link to checkpoint ${fields.cpSeq - 1}` };
    const signed = await deps.keys.check(cp.kid as string, checkpointPayload(fields), cp.signature as string);
    if (signed === 'uncertified') {
      return { ...base, kind: 'checkpoint_uncertified', detail: `checkpoint ${fields.cpSeq} is signed by key ${cp.kid as string}, which no trusted root certified` };
    }
    if (signed !== 'ok') return { ...base, kind: 'checkpoint_signature', detail: `the signature of checkpoint ${fields.cpSeq} does not verify` };
    const [rec] = await sql`SELECT id, at, hash FROM ${sql(log)} WHERE chain_id = ${chainId} AND seq = ${fields.uptoSeq}`;
    if (!rec) {
      if (!(prunedUntil && new Date(fields.atMs) < prunedUntil)) {
        const [span] = await sql`SELECT max(seq)::bigint AS hi FROM ${sql(log)} WHERE chain_id = ${chainId}`;
        const first = Number(span?.hi ?? 0) + 1;
        return { ...base, seq: first, last_seq: fields.uptoSeq, kind: 'truncated', detail: `checkpoint ${fields.cpSeq} names record ${fields.uptoSeq}; the chain ends at ${first - 1}, so records ${first}–${fields.uptoSeq} are gone` };
      }
    } else if (!(rec.hash as Buffer).equals(fields.headHash)) {
      // The records re-hash into an unbroken chain, so the chain was rewritten from the edit on: somewhere after the last record vouched for.
      return {
        ...base,
        seq: vouched + 1,
        last_seq: fields.uptoSeq,
        record_id: null,
        kind: 'altered',
        detail: `record ${fields.uptoSeq} differs from what checkpoint ${fields.cpSeq} signed: a record between ${vouched + 1} and ${fields.uptoSeq} was changed and the chain rewritten after it`,
      };
    }
    prevDigest = checkpointDigest(fields);
    vouched = fields.uptoSeq;
    expected++;
  }
  return undefined;
}
