/**
 * What a checkpoint is, as bytes: the fields a checkpoint signs and the
 * digest its successor names. Shared by the writer, the verifier and the
 * anchors, so all three agree on every byte.
 */
import { createHash } from 'node:crypto';

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
