/**
 * The signing-key schedule, pure: which key signs at a given moment, and what
 * a rotation changes. A verifier that caches the JWK Set (jose's
 * createRemoteJWKSet and express-oauth2-jwt-bearer keep it up to ten minutes
 * and re-fetch for an unknown kid at most every 30 s) refuses a token signed
 * with a key it has not fetched. So a rotation publishes the next key first
 * and lets it sign only once it has been published for the whole
 * publish-ahead period; the current key's retirement is set for that same
 * moment. Every process reads the schedule from the database and decides
 * from its own clock at each signature: no timer, no second write.
 *
 * A key signs during [activatesAt, retiredAt) (retiredAt null: until the next
 * rotation) and is published from its creation until publishUntil.
 */
import { ConflictError } from '../errors.ts';

/** The times of a stored key that the schedule reads. */
export interface KeyTimes {
  kid: string;
  /** When it was stored, and so published (the rotation's transaction reads the clock after taking its lock). */
  createdAt: Date;
  /** From when it signs. */
  activatesAt: Date;
  /** From when it no longer signs (null: until the next rotation). */
  retiredAt: Date | null;
  /** Until when a retired key stays published (null while not retired). */
  publishUntil: Date | null;
  /** It signed at once, without the publish-ahead period: the first key, or an emergency rotation. */
  immediate: boolean;
}

/** The key that signs now, or why none may. */
export type SigningChoice = { kid: string } | { kid: null; reason: string };

/**
 * The key that signs at `now`. Fails closed: no key, two keys claiming the
 * same moment, or a scheduled key published for less than this process's
 * publish-ahead period (another replica configured shorter, or a row written
 * by hand) yield no key rather than a token some cached verifier refuses.
 */
export function signingKeyAt(keys: readonly KeyTimes[], now: Date, publishAheadSeconds: number): SigningChoice {
  const t = now.getTime();
  const live = keys.filter((k) => k.activatesAt.getTime() <= t && (k.retiredAt === null || t < k.retiredAt.getTime()));
  if (live.length === 0) return { kid: null, reason: 'no signing key is active' };
  if (live.length > 1) return { kid: null, reason: `keys ${live.map((k) => k.kid).join(', ')} are active at once` };
  const key = live[0]!;
  if (!key.immediate && t - key.createdAt.getTime() < publishAheadSeconds * 1000) {
    return { kid: null, reason: `key ${key.kid} has been published since ${key.createdAt.toISOString()}, less than ${publishAheadSeconds} s` };
  }
  return { kid: key.kid };
}

/** How a rotation makes the next key active. */
export type RotationMode =
  /** Published now, signing once the publish-ahead period has passed (the default). */
  | 'scheduled'
  /** Signing at once: for a compromised key. Verifiers with a cached key set refuse its tokens until they re-fetch. */
  | 'immediate'
  /** Only when there is no key at all (start-up): the first key signs at once, as no verifier can have cached a set yet. */
  | 'first';

/** What a rotation writes. */
export interface RotationPlan {
  /** The moment the plan was made, read after the rotation's lock was taken: the new key's creation (publication) time. */
  now: Date;
  /** When the new key starts signing. */
  activatesAt: Date;
  immediate: boolean;
  /** The key that stops signing (at `activatesAt`) and how long it stays published; undefined when there was none. */
  retire: { kid: string; retiredAt: Date; publishUntil: Date } | undefined;
  /** A scheduled key that never signed, withdrawn from the JWKS by an emergency rotation. */
  withdraw: string | undefined;
}

/** Options of {@link planRotation}. */
export interface PlanRotationOptions {
  /** Keys whose signing period is not over (the current one, a scheduled one). */
  keys: readonly KeyTimes[];
  now: Date;
  mode: RotationMode;
  publishAheadSeconds: number;
  /** How long a retired key stays published after it last signed: the longest token lifetime plus a margin for clocks. */
  retiredPublishSeconds: number;
}

/**
 * What a rotation changes, or undefined when there is nothing to do (mode
 * `first` with a key already there). A scheduled rotation while another is
 * pending is a conflict: the pending key is not yet active, and retiring it
 * unused would restart the wait for nothing.
 */
export function planRotation(o: PlanRotationOptions): RotationPlan | undefined {
  const t = o.now.getTime();
  const pending = o.keys.find((k) => k.retiredAt === null && k.activatesAt.getTime() > t);
  const current = o.keys.find((k) => k.activatesAt.getTime() <= t && (k.retiredAt === null || t < k.retiredAt.getTime()));
  const publishedAfter = (at: number) => new Date(at + o.retiredPublishSeconds * 1000);

  if (!pending && !current) {
    // No key signs (start-up, an empty table): nothing is cached anywhere that a new key could be missing from.
    return { now: o.now, activatesAt: o.now, immediate: true, retire: undefined, withdraw: undefined };
  }
  if (o.mode === 'first') return undefined;
  if (o.mode === 'scheduled') {
    if (pending) {
      throw new ConflictError(`A rotation is already scheduled: key ${pending.kid} signs from ${pending.activatesAt.toISOString()}.`, { pending: pending.kid });
    }
    const at = t + o.publishAheadSeconds * 1000;
    return {
      now: o.now,
      activatesAt: new Date(at),
      immediate: false,
      retire: current && { kid: current.kid, retiredAt: new Date(at), publishUntil: publishedAfter(at) },
      withdraw: undefined,
    };
  }
  // Immediate: the current key stops now; a pending key, which never signed, leaves the JWKS now.
  return {
    now: o.now,
    activatesAt: o.now,
    immediate: true,
    retire: current && { kid: current.kid, retiredAt: o.now, publishUntil: publishedAfter(t) },
    withdraw: pending?.kid,
  };
}
