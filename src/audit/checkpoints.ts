/**
 * Signed checkpoints of chain heads. While records flow, every few seconds
 * each chain this process writes gets a checkpoint: its head (sequence
 * number and hash), the time, and the digest of the chain's previous
 * checkpoint, signed with the audit key. A verifier then notices records
 * removed from the end of a chain, and a removed or altered checkpoint.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Sql } from '../db/client.ts';
import type { Logger } from '../logger.ts';
import type { AuditKeys } from './auditKeys.ts';

/** The 32 zero bytes a first checkpoint names as its predecessor. */
export const GENESIS = Buffer.alloc(32);

/** A checkpoint's fields. */
export interface CheckpointFields {
  chainId: string;
  cpSeq: number;
  uptoSeq: number;
  headHash: Buffer;
  atMs: number;
  prevDigest: Buffer;
}

/** The exact text a checkpoint signature covers. */
export function checkpointPayload(c: CheckpointFields): string {
  return ['custos-checkpoint/v1', c.chainId, c.cpSeq, c.uptoSeq, c.headHash.toString('hex'), c.atMs, c.prevDigest.toString('hex')].join('\n');
}

/** The digest the next checkpoint of the chain names. */
export function checkpointDigest(c: CheckpointFields): Buffer {
  return createHash('sha256').update(checkpointPayload(c)).digest();
}

/** Writes checkpoints for the chains of this process. */
export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly o: { sql: Sql; keys: AuditKeys; clock: Clock; log: Logger; chains: () => Promise<string[]>; intervalSeconds: number }) {}

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

  /** Checkpoints every chain whose head moved since its last checkpoint; returns how many were written. */
  run(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    let written = 0;
    for (const chainId of await this.o.chains()) {
      const [head] = await this.o.sql`SELECT head_seq, head_hash FROM audit_chains WHERE id = ${chainId}`;
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
      written++;
    }
    return written;
  }
}
