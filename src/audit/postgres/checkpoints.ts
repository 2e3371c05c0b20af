/**
 * Signed checkpoints of chain heads. While records flow, every few seconds
 * each chain this process writes gets a checkpoint: its head (sequence
 * number and hash), the time, and the digest of the chain's previous
 * checkpoint, signed with the audit key. A verifier then notices records
 * removed from the end of a chain, and a removed or altered checkpoint.
 */
import type { Clock } from '../../clock.ts';
import type { Sql } from '../../db/client.ts';
import type { Logger } from '../../logger.ts';
import { checkpointAnchor, keyAnchor, registryPayload, type Anchor, type RegistryChain } from '../anchors.ts';
import type { AuditKeys } from './auditKeys.ts';
import type { ChainedLog } from './chainedWriter.ts';
import type { Witnesses } from '../witness.ts';
import { checkpointDigest, checkpointPayload, GENESIS, type CheckpointFields } from '../checkpointFormat.ts';

/**
 * Writes checkpoints for the chains of this process, and anchors them (with
 * a signed registry of every chain, every `registrySeconds`) to the
 * witnesses outside the database.
 */
export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private lastRegistryMs = -Infinity;
  /** Keys whose certificates this process has anchored: every anchor stream carries the certificate of each key that signed in it. */
  private readonly anchoredKids = new Set<string>();

  private readonly o: { sql: Sql; keys: AuditKeys; clock: Clock; log: Logger; chains: () => Promise<string[]>; intervalSeconds: number; witnesses: Witnesses; registrySeconds: number };
  constructor(o: { sql: Sql; keys: AuditKeys; clock: Clock; log: Logger; chains: () => Promise<string[]>; intervalSeconds: number; witnesses: Witnesses; registrySeconds: number }) {
    this.o = o;
  }

  /** Starts checkpointing every `intervalSeconds`. */
  start(): void {
    this.timer ??= setInterval(() => void this.run().catch((err: unknown) => this.o.log.warn({ err }, 'audit checkpoint failed; retrying')), this.o.intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Stops, after writing a last checkpoint of each chain. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.run().catch((err: unknown) => this.o.log.warn({ err }, 'final audit checkpoint failed'));
  }

  /** Checkpoints every chain whose head moved since its last checkpoint, and anchors them; returns how many were written. */
  run(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    const anchors: Anchor[] = [];
    for (const chainId of await this.o.chains()) {
      const [head] = await this.o.sql`SELECT log, head_seq, head_hash FROM audit_chains WHERE id = ${chainId}`;
      if (!head) continue;
      const [last] = await this.o.sql`
        SELECT cp_seq, upto_seq, head_hash, (extract(epoch FROM at) * 1000)::bigint AS at_ms, prev_digest FROM audit_checkpoints
        WHERE chain_id = ${chainId} ORDER BY cp_seq DESC LIMIT 1`;
      const headSeq = Number(head.head_seq);
      if (headSeq === 0 || (last && Number(last.upto_seq) >= headSeq)) continue;
      const prevDigest = last
        ? checkpointDigest({ chainId, cpSeq: Number(last.cp_seq), uptoSeq: Number(last.upto_seq), headHash: last.head_hash as Buffer, atMs: Number(last.at_ms), prevDigest: last.prev_digest as Buffer })
        : GENESIS;
      const fields: CheckpointFields = { chainId, cpSeq: last ? Number(last.cp_seq) + 1 : 1, uptoSeq: headSeq, headHash: head.head_hash as Buffer, atMs: this.o.clock.now().getTime(), prevDigest };
      const { kid, signature } = await this.o.keys.sign(checkpointPayload(fields));
      await this.o.sql`
        INSERT INTO audit_checkpoints (chain_id, cp_seq, upto_seq, head_hash, at, prev_digest, kid, signature)
        VALUES (${chainId}, ${fields.cpSeq}, ${fields.uptoSeq}, ${fields.headHash}, ${new Date(fields.atMs)}, ${prevDigest}, ${kid}, ${signature})`;
      anchors.push(checkpointAnchor(head.log as ChainedLog, fields, kid, signature));
    }
    const written = anchors.length;
    const now = this.o.clock.now().getTime();
    if (written > 0 && now - this.lastRegistryMs >= this.o.registrySeconds * 1000) {
      anchors.push(await this.registry());
      this.lastRegistryMs = now;
    }
    // Even with nothing new, anchors a failing witness still owes are retried.
    await this.publish(anchors);
    return written;
  }

  /** Publishes `anchors`, preceded by the certificate of any signing key not anchored before. */
  private async publish(anchors: Anchor[]): Promise<void> {
    const certs: Anchor[] = [];
    for (const kid of new Set(anchors.flatMap((a) => (a.type === 'key' ? [] : [a.kid])))) {
      if (this.anchoredKids.has(kid)) continue;
      const cert = await this.o.keys.certificateOf(kid);
      if (cert) certs.push(keyAnchor(cert));
      this.anchoredKids.add(kid);
    }
    await this.o.witnesses.publish([...certs, ...anchors]);
  }

  /** Anchors a registry now (besides the periodic ones). */
  async anchorRegistry(): Promise<void> {
    await this.publish([await this.registry()]);
    this.lastRegistryMs = this.o.clock.now().getTime();
  }

  /** A signed list of every chain of both logs and its head: a chain removed later, registration and all, is still named. */
  async registry(): Promise<Anchor> {
    const rows = await this.o.sql`SELECT id, log, head_seq, head_hash FROM audit_chains WHERE head_seq > 0 ORDER BY log, id`;
    const chains: RegistryChain[] = rows.map((r) => ({ id: r.id as string, log: r.log as ChainedLog, head_seq: Number(r.head_seq), head_hash: (r.head_hash as Buffer).toString('hex') }));
    const body = { at_ms: this.o.clock.now().getTime(), chains };
    const { kid, signature } = await this.o.keys.sign(registryPayload(body));
    return { type: 'registry', ...body, kid, signature };
  }
}
