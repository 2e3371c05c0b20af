/**
 * Anchors: what Custos writes about its logs to witnesses the database
 * cannot rewrite (an append-only file, the structured log stream, the signed
 * webhook outbox). Three kinds, one JSON object per line:
 *
 * - `key`: a checkpoint-signing key's certificate, when the key is made;
 * - `checkpoint`: every signed checkpoint, exactly as stored;
 * - `registry`: every chain of both logs and its head, signed, written
 *   periodically, so a chain removed with its registration is still named.
 *
 * Each is self-verifying: a verifier needs the pinned root's public key and
 * nothing else to tell a genuine anchor from a forged one.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { ChainedLog } from './postgres/chainedWriter.ts';
import { checkpointPayload, type CheckpointFields } from './checkpointFormat.ts';
import type { KeyCertificate } from './rootKey.ts';

const Hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const Log = z.enum(['decision_log', 'audit_events']);
const Seq = z.number().int().min(0);

const KeyAnchor = z.object({ type: z.literal('key'), certificate: z.record(z.string(), z.unknown()) });
const CheckpointAnchor = z.object({
  type: z.literal('checkpoint'),
  log: Log,
  chain_id: z.string().max(100),
  cp_seq: Seq,
  upto_seq: Seq,
  head_hash: Hex32,
  at_ms: Seq,
  prev_digest: Hex32,
  kid: z.string().max(100),
  signature: z.string().max(200),
});
const RegistryChain = z.object({ id: z.string().max(100), log: Log, head_seq: Seq, head_hash: Hex32 });
const RegistryAnchor = z.object({ type: z.literal('registry'), at_ms: Seq, chains: z.array(RegistryChain).max(1_000_000), kid: z.string().max(100), signature: z.string().max(200) });

/** One anchor line (as written to a witness, and as a verifier reads it back). */
export const Anchor = z.discriminatedUnion('type', [KeyAnchor, CheckpointAnchor, RegistryAnchor]);
/** One anchor line. */
export type Anchor = z.infer<typeof Anchor>;
/** A checkpoint anchor. */
export type CheckpointAnchor = z.infer<typeof CheckpointAnchor>;
/** A registry anchor. */
export type RegistryAnchor = z.infer<typeof RegistryAnchor>;
/** A chain and its head, as a registry anchor lists it. */
export type RegistryChain = z.infer<typeof RegistryChain>;

/** The anchor of a key certificate. */
export function keyAnchor(certificate: KeyCertificate): Anchor {
  return { type: 'key', certificate: certificate as unknown as Record<string, unknown> };
}

/** The anchor of a stored checkpoint. */
export function checkpointAnchor(log: ChainedLog, c: CheckpointFields, kid: string, signature: string): CheckpointAnchor {
  return { type: 'checkpoint', log, chain_id: c.chainId, cp_seq: c.cpSeq, upto_seq: c.uptoSeq, head_hash: c.headHash.toString('hex'), at_ms: c.atMs, prev_digest: c.prevDigest.toString('hex'), kid, signature };
}

/** The checkpoint fields an anchor carries (for its signature check). */
export function fieldsOfAnchor(a: CheckpointAnchor): CheckpointFields {
  return { chainId: a.chain_id, cpSeq: a.cp_seq, uptoSeq: a.upto_seq, headHash: Buffer.from(a.head_hash, 'hex'), atMs: a.at_ms, prevDigest: Buffer.from(a.prev_digest, 'hex') };
}

/** The exact text a checkpoint anchor's signature covers (the checkpoint's own). */
export function checkpointAnchorPayload(a: CheckpointAnchor): string {
  return checkpointPayload(fieldsOfAnchor(a));
}

/** The exact text a registry anchor's signature covers. */
export function registryPayload(r: { at_ms: number; chains: readonly RegistryChain[] }): string {
  return ['custos-registry/v1', r.at_ms, ...r.chains.map((c) => `${c.log} ${c.id} ${c.head_seq} ${c.head_hash}`)].join('\n');
}

/** Anchors read back from text, and the lines that are not anchors (reported, never trusted). */
export interface ParsedAnchors {
  anchors: Anchor[];
  malformed: number[];
  /** Why the anchors could not be read at all (an error code), if so: itself a finding. */
  unreadable?: string;
}

/** Reads anchors given as values (an uploaded set); entries that are not anchors are counted by position (1-based). */
export function parseAnchorValues(values: readonly unknown[]): ParsedAnchors {
  const out: ParsedAnchors = { anchors: [], malformed: [] };
  values.forEach((v, i) => addValue(out, v, i + 1));
  return out;
}

function addValue(out: ParsedAnchors, value: unknown, n: number): void {
  const a = Anchor.safeParse(value);
  if (a.success) out.anchors.push(a.data);
  else out.malformed.push(n);
}

function addLine(out: ParsedAnchors, line: string, n: number): void {
  if (!line.trim()) return;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    out.malformed.push(n);
    return;
  }
  addValue(out, json, n);
}

/** The time of an anchor line, read without parsing it (key lines have none). */
const AT_MS = /"at_ms":(\d+)/;

/**
 * Reads anchor files line by line (they grow for years); one that cannot be
 * read is marked `unreadable` (a missing anchor file is itself a finding).
 * With `window`, checkpoint and registry lines outside it are skipped
 * unparsed (key certificates are always read).
 */
export async function readAnchorFiles(paths: readonly string[], window?: { from: Date; to: Date }): Promise<ParsedAnchors> {
  const out: ParsedAnchors = { anchors: [], malformed: [] };
  const from = window?.from.getTime() ?? -Infinity;
  const to = window?.to.getTime() ?? Infinity;
  for (const path of paths) {
    let n = 0;
    try {
      const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
      for await (const line of lines) {
        n++;
        const at = AT_MS.exec(line);
        if (at && (Number(at[1]) < from || Number(at[1]) >= to)) continue;
        addLine(out, line, n);
      }
    } catch (err) {
      out.unreadable = (err as { code?: string }).code ?? 'unreadable';
    }
  }
  return out;
}
