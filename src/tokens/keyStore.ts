/**
 * What the signing-key store is. `postgres/signingKeys.ts` implements it.
 */

import type { Tx } from '../db/client.ts';
import type { KeyTimes, RotationPlan } from './keySchedule.ts';

/** A stored signing key (private part still sealed) and its schedule (keySchedule.ts). */
export interface SigningKeyRow extends KeyTimes {
  alg: 'ES256';
  publicJwk: Record<string, unknown>;
  privateEnc: Buffer;
}

/** A new key before it is scheduled. */
export type NewSigningKey = Pick<SigningKeyRow, 'kid' | 'alg' | 'publicJwk' | 'privateEnc'>;

/** Storage of signing keys. */
export interface SigningKeyStore {
  /** Keys still published at `now`: a scheduled one, the active one, and retired ones within their publication window. */
  published(now: Date): Promise<SigningKeyRow[]>;
  /**
   * Under a lock that serialises rotations across replicas: reads the keys
   * whose signing period had not ended at `since` (the current one, a
   * scheduled one), asks `plan` what to change, and applies it with `next`
   * as the new key; `within` runs in the same transaction (the rotation's
   * audit event). `plan` returning undefined changes nothing.
   */
  rotate(
    next: NewSigningKey,
    since: Date,
    plan: (keys: KeyTimes[]) => RotationPlan | undefined,
    within?: (tx: Tx, plan: RotationPlan) => Promise<void>,
  ): Promise<RotationPlan | undefined>;
}
