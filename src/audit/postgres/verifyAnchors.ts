/**
 * Verification of the logs against anchors kept outside the database: what
 * a database superuser can undo in the database (cut a chain's end together
 * with its checkpoints, re-sign with a key of their own, remove a chain with
 * its registration) the witnesses still remember.
 *
 * Every anchor is checked first (its signature, by a key a trusted root
 * certified); an anchor that fails is reported and trusted for nothing.
 * Then, per chain, each anchored head (from checkpoints and registries) must
 * still be in the database, with the same hash: the first that is not is
 * reported exactly — a truncation at the first missing record, an edit as
 * the range of records it must lie in, a missing chain by name.
 */
import type { Sql } from '../../db/client.ts';
import { checkpointAnchorPayload, registryPayload, type ParsedAnchors } from '../anchors.ts';
import type { ChainedLog } from './chainedWriter.ts';
import type { CertifiedKeys } from './certifiedKeys.ts';
import type { VerifyProblem } from './verify.ts';

/** A head a witness saw: record `upto` of the chain had hash `hash`. */
interface Claim {
  log: ChainedLog;
  upto: number;
  hash: string;
  atMs: number;
  source: string;
}

/** What anchor verification read. */
export interface AnchorSummary {
  anchors: number;
  /** Anchor lines that were not anchors at all (line numbers), reported, never trusted. */
  malformed: number[];
  /** Why the anchors could not be read, if so. */
  unreadable: string | null;
  /** Chains the anchors name. */
  chains: number;
}

/** Checks the database's chains against `parsed`, for anchors written in [from, to); `keys` already knows the anchored key certificates (verify.ts adds them first). */
export async function verifyAgainstAnchors(
  deps: { sql: Sql; keys: CertifiedKeys },
  parsed: ParsedAnchors,
  range: { from: Date; to: Date },
  prunedUntil: (log: ChainedLog) => Date | null,
): Promise<{ problems: VerifyProblem[]; summary: AnchorSummary }> {
  const problems: VerifyProblem[] = [];
  if (parsed.unreadable) {
    problems.push({ log: 'audit_events', kind: 'anchors_unreadable', chain_id: 'anchors', seq: 0, last_seq: null, record_id: null, at: null, detail: `the anchors could not be read (${parsed.unreadable})` });
  }
  if (parsed.malformed.length) {
    const lines = parsed.malformed.slice(0, 10).join(', ') + (parsed.malformed.length > 10 ? ', …' : '');
    problems.push({ log: 'audit_events', kind: 'anchor_invalid', chain_id: 'anchors', seq: parsed.malformed[0]!, last_seq: null, record_id: null, at: null, detail: `${parsed.malformed.length} anchor line(s) are not anchors (${lines})` });
  }
  const claims = new Map<string, Claim[]>();
  const claim = (chainId: string, c: Claim) => {
    const list = claims.get(chainId) ?? [];
    list.push(c);
    claims.set(chainId, list);
  };
  const inRange = (ms: number) => ms >= range.from.getTime() && ms < range.to.getTime();
  for (const a of parsed.anchors) {
    if (a.type === 'key' || !inRange(a.at_ms)) continue;
    const at = new Date(a.at_ms).toISOString();
    const payload = a.type === 'checkpoint' ? checkpointAnchorPayload(a) : registryPayload(a);
    const check = await deps.keys.check(a.kid, payload, a.signature);
    if (check !== 'ok') {
      const what = a.type === 'checkpoint' ? `the anchor of checkpoint ${a.cp_seq}` : `the registry anchor of ${at}`;
      problems.push({
        log: a.type === 'checkpoint' ? a.log : 'audit_events',
        kind: 'anchor_invalid',
        chain_id: a.type === 'checkpoint' ? a.chain_id : 'registry',
        seq: a.type === 'checkpoint' ? a.cp_seq : 0,
        last_seq: null,
        record_id: null,
        at,
        detail: `${what} is signed by ${check === 'uncertified' ? `key ${a.kid}, which no trusted root certified` : `key ${a.kid}, but the signature does not verify`}: it proves nothing`,
      });
      continue;
    }
    if (a.type === 'checkpoint') claim(a.chain_id, { log: a.log, upto: a.upto_seq, hash: a.head_hash, atMs: a.at_ms, source: `checkpoint ${a.cp_seq}` });
    else for (const c of a.chains) claim(c.id, { log: c.log, upto: c.head_seq, hash: c.head_hash, atMs: a.at_ms, source: `the registry of ${at}` });
  }
  for (const [chainId, list] of claims) {
    const p = await checkChain(deps.sql, chainId, list, prunedUntil(list[0]!.log));
    if (p) problems.push(p);
  }
  return { problems, summary: { anchors: parsed.anchors.length, malformed: parsed.malformed, unreadable: parsed.unreadable ?? null, chains: claims.size } };
}

async function checkChain(sql: Sql, chainId: string, list: Claim[], prunedUntil: Date | null): Promise<VerifyProblem | undefined> {
  list.sort((a, b) => a.upto - b.upto || a.atMs - b.atMs);
  const log = list[0]!.log;
  const last = list[list.length - 1]!;
  const base = { log, chain_id: chainId, record_id: null, at: new Date(last.atMs).toISOString() };
  const [reg] = await sql`SELECT log, head_seq FROM audit_chains WHERE id = ${chainId}`;
  if (!reg || reg.log !== log) {
    return { ...base, kind: 'chain_missing', seq: 1, last_seq: last.upto, detail: `${last.source} names this chain with records 1–${last.upto}; the database has no such chain` };
  }
  const [span] = await sql`SELECT max(seq)::bigint AS hi FROM ${sql(log)} WHERE chain_id = ${chainId}`;
  const hi = span?.hi === null || span?.hi === undefined ? 0 : Number(span.hi);
  const heads = await sql`SELECT seq, id, hash FROM ${sql(log)} WHERE chain_id = ${chainId} AND seq IN ${sql([...new Set(list.map((c) => c.upto))])}`;
  const bySeq = new Map(heads.map((h) => [Number(h.seq), h]));
  let matched = 0;
  for (const c of list) {
    if (c.upto === 0) continue;
    const rec = bySeq.get(c.upto);
    if (!rec) {
      // Records anchored before a signed retention drop may be gone.
      if (prunedUntil && c.atMs < prunedUntil.getTime()) continue;
      if (c.upto > hi) {
        return { ...base, kind: 'truncated', seq: hi + 1, last_seq: last.upto, detail: `${c.source} anchored record ${c.upto}; the chain now ends at ${hi}, so records ${hi + 1}–${last.upto} are gone` };
      }
      return { ...base, kind: 'missing', seq: c.upto, last_seq: c.upto, detail: `${c.source} anchored record ${c.upto}, which is gone` };
    }
    if ((rec.hash as Buffer).toString('hex') !== c.hash) {
      return {
        ...base,
        kind: 'altered',
        seq: matched + 1,
        last_seq: c.upto,
        record_id: null,
        detail: `record ${c.upto} differs from what ${c.source} anchored: a record between ${matched + 1} and ${c.upto} was changed and the chain rewritten after it`,
      };
    }
    matched = c.upto;
  }
  const headSeq = Number(reg.head_seq);
  if (headSeq < last.upto && !(prunedUntil && last.atMs < prunedUntil.getTime())) {
    return { ...base, kind: 'truncated', seq: headSeq + 1, last_seq: last.upto, detail: `the chain's head is ${headSeq}, behind record ${last.upto} that ${last.source} anchored` };
  }
  return undefined;
}
