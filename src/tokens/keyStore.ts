/**
 * What the signing-key store is. `postgres/signingKeys.ts` implements it.
 */

import type { Tx } from '../db/client.ts';

/** A stored signing key (private part still sealed). */
export interface SigningKeyRow {
  kid: string;
  alg: 'ES256';
  publicJwk: Record<string, unknown>;
  privateEnc: Buffer;
  createdAt: Date;
  retiredAt: Date | null;
  publishUntil: Date | null;
}

/** Storage of signing keys. */
export interface SigningKeyStore {
  /** Keys still published at `now`: the active one and retired ones within their publication window. */
  published(now: Date): Promise<SigningKeyRow[]>;
  /**
   * Retires the active key (if any) until `publishUntil` and inserts `next`
   * as the active key, atomically; `within` runs in the same transaction
   * (the rotation's audit event).
   */
  rotate(next: Omit<SigningKeyRow, 'retiredAt' | 'publishUntil'>, now: Date, publishUntil: Date, within?: (tx: Tx, retired: string | null) => Promise<void>): Promise<{ retired: string | null }>;
}
