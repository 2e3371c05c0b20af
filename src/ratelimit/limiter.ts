/**
 * Per-client and per-source-address rate limits on the deciding routes
 * (docs/rate-limits.md). Each key (a client, an address) has one token
 * bucket in PostgreSQL that every replica shares (postgres/bucketStore.ts);
 * a process leases tokens from it in batches (a tenth of a second's worth by
 * default) and spends them locally, so most requests touch no database and a
 * client cannot multiply its quota by the number of replicas: across them it
 * gets its rate plus at most the leases held out at once.
 *
 * - Leased tokens not spent within `leaseTtlMs` are dropped (never returned):
 *   a lease cannot be hoarded to burst later.
 * - When a lease comes back short, the shared bucket is empty: the key is
 *   refused locally, without asking again, until a lease's worth has
 *   refilled. A flood costs one statement per key per replica per lease
 *   period, whatever its size.
 * - When the database cannot be reached the limiter goes on with a bucket of
 *   the same limit in this process alone (each replica then allows the full
 *   rate, at most the replica count times it in all). It does not refuse:
 *   every decision and token needs its record committed first, so without the
 *   database the decision path answers 503 anyway (fails closed), and a
 *   limiter that refused too would only hide that answer behind a 429.
 *
 * Refusals are counted (custos_rate_limited_total) and audited, aggregated:
 * one `ratelimit.throttled` event per key per window with the count
 * (throttleLog.ts), not one per request.
 */
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../clock.ts';
import { RateLimitedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { DecisionLane } from '../metrics/metrics.ts';
import { fullBucket, lease, leaseSize, retryAfterSeconds, type BucketState, type Limit } from './bucket.ts';
import type { BucketStore } from './postgres/bucketStore.ts';
import type { RateClass } from './classes.ts';
import { ThrottleLog } from './throttleLog.ts';


/** The limits (docs/rate-limits.md; config.ts `rateLimits`). */
export interface RateLimitSettings {
  /** Per class. */
  classes: Record<RateClass, Limit>;
  /** Per client, by principal id or client id: replaces its class's limit. */
  clients: ReadonlyMap<string, Limit>;
  /** A lease asks for this fraction of a second's worth of tokens (0.1: a tenth of the rate). */
  leaseFraction: number;
  /** Leased tokens not spent by then are dropped. */
  leaseTtlMs: number;
  /** Throttling is audited once per key per window of this length. */
  auditWindowSeconds: number;
}

/** Who a client limit is about. */
export interface ClientSubject {
  via: 'session' | 'client';
  principalId: string;
  clientId?: string | undefined;
}

/** Dependencies of {@link RateLimiter}. */
export interface RateLimiterDeps {
  store: BucketStore;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  /** Counts a refusal (custos_rate_limited_total{route,class}). */
  onLimited: (route: DecisionLane, cls: RateClass) => void;
  settings: RateLimitSettings;
  /** Monotonic milliseconds (performance.now): leases and refusals are timed on it, never on the wall clock. */
  now?: () => number;
}

/** One key's state in this process. */
interface Local {
  limit: Limit;
  /** The policy name in the RateLimit headers: the class, or `client` for a client's own limit. */
  policy: string;
  cls: RateClass;
  /** Tokens leased and not yet spent, until `leasedUntil`. */
  leased: number;
  leasedUntil: number;
  /** The lease under way, if any (one at a time per key). */
  pending: Promise<void> | undefined;
  /** The shared bucket was empty: refused here, without asking, until then. */
  refusedUntil: number;
  /** Requests needing at least this many tokens are the ones refused until `refusedUntil`. */
  refusedFor: number;
  /** Whole seconds the last empty lease said to wait. */
  retryAfter: number;
  /** This process's own bucket, used while the database cannot be reached. */
  fallback: BucketState | undefined;
  /** Last use (monotonic ms), to forget idle keys. */
  usedAt: number;
}

/** Keys idle this long are forgotten in memory (their shared bucket stays, refilling). */
const IDLE_MS = 5 * 60_000;

/** After a failed lease, the shared buckets are left alone this long (ms). */
const OFFLINE_MS = 1000;

/** Shared buckets idle this long are deleted (full again by then). */
const PRUNE_IDLE_SECONDS = 86_400;

/** The process's limiter. */
export class RateLimiter {
  private readonly locals = new Map<string, Local>();
  private readonly now: () => number;
  private readonly throttled: ThrottleLog;
  private sweepAt: number;
  private warnedAt = -Infinity;
  /** Until then the shared buckets are not asked (they just failed). */
  private offlineUntil = -Infinity;
  /** Statements sent to the shared buckets (leases), for the measured cost (docs/rate-limits.md). */
  leases = 0;

  private readonly deps: RateLimiterDeps;

  constructor(deps: RateLimiterDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => performance.now());
    this.throttled = new ThrottleLog({ audit: deps.audit, clock: deps.clock, log: deps.log, windowSeconds: deps.settings.auditWindowSeconds });
    this.sweepAt = this.now() + IDLE_MS;
  }

  /** Starts the audit window's timer (a server; tests may call flush() instead). */
  start(): void {
    this.throttled.start();
  }

  /** Writes the pending throttle events and stops the timer. */
  async close(): Promise<void> {
    await this.throttled.close();
  }

  /** Writes the pending throttle events now (one per key). */
  flush(): Promise<void> {
    return this.throttled.flush();
  }

  /**
   * The source address's limit (before the caller is authenticated, so an
   * unauthenticated flood is held too). Undefined when admitted at once;
   * a promise when a lease had to be taken; throws RateLimitedError (429).
   */
  admitAddress(ip: string | undefined, route: DecisionLane): Promise<void> | undefined {
    // No address (a closed socket): nothing to key on; the client limit still applies.
    if (!ip) return undefined;
    const key = `a:${ip}`;
    return this.admit(key, () => ({ cls: 'address', policy: 'address', limit: this.deps.settings.classes.address }), route, 1, { ip });
  }

  /** The authenticated client's limit, for `cost` tokens (a batch costs one per decision). */
  admitClient(client: ClientSubject, route: DecisionLane, cost: number, ip?: string | undefined): Promise<void> | undefined {
    const key = `c:${client.principalId}`;
    return this.admit(key, () => this.clientLimit(client), route, cost, { principalId: client.principalId, ip });
  }

  private clientLimit(client: ClientSubject): { cls: RateClass; policy: string; limit: Limit } {
    const cls: RateClass = client.via === 'client' ? 'service' : 'user';
    const own = this.deps.settings.clients.get(client.principalId) ?? (client.clientId === undefined ? undefined : this.deps.settings.clients.get(client.clientId));
    return own ? { cls, policy: 'client', limit: own } : { cls, policy: cls, limit: this.deps.settings.classes[cls] };
  }

  private local(key: string, make: () => { cls: RateClass; policy: string; limit: Limit }, now: number): Local {
    let e = this.locals.get(key);
    if (!e) {
      if (now >= this.sweepAt) this.sweep(now);
      const m = make();
      e = { ...m, leased: 0, leasedUntil: 0, pending: undefined, refusedUntil: 0, refusedFor: 1, retryAfter: 1, fallback: undefined, usedAt: now };
      this.locals.set(key, e);
    }
    e.usedAt = now;
    return e;
  }

  private admit(key: string, make: () => { cls: RateClass; policy: string; limit: Limit }, route: DecisionLane, cost: number, who: { principalId?: string; ip?: string | undefined }): Promise<void> | undefined {
    const now = this.now();
    const e = this.local(key, make, now);
    // A batch larger than the burst could never be admitted: it costs the whole burst.
    const need = Math.min(cost, e.limit.burst);
    if (e.leasedUntil <= now) e.leased = 0;
    // The hot path: tokens in hand, no await and no database.
    if (e.leased >= need) {
      e.leased -= need;
      return undefined;
    }
    if (now < e.refusedUntil && need >= e.refusedFor) throw this.refuse(key, e, route, who);
    return this.leaseAndTake(key, e, route, need, who);
  }

  private async leaseAndTake(key: string, e: Local, route: DecisionLane, need: number, who: { principalId?: string; ip?: string | undefined }): Promise<void> {
    // Requests waiting on one lease share it; one that finds it spent asks once more, while the shared bucket has tokens.
    for (let attempt = 0; attempt < 3; attempt++) {
      e.pending ??= this.takeLease(key, e, need).finally(() => (e.pending = undefined));
      await e.pending;
      const now = this.now();
      if (e.leasedUntil <= now) e.leased = 0;
      if (e.leased >= need) {
        e.leased -= need;
        return;
      }
      if (now < e.refusedUntil && need >= e.refusedFor) break;
    }
    throw this.refuse(key, e, route, who);
  }

  /** One lease from the shared bucket (or, when the database is away, from this process's own bucket). */
  private async takeLease(key: string, e: Local, need: number): Promise<void> {
    const want = Math.max(need, leaseSize(e.limit, this.deps.settings.leaseFraction));
    let granted: number;
    let left: number;
    try {
      // After a failure, a second without asking: requests are not held up by connection attempts to a database that is away.
      if (this.now() < this.offlineUntil) throw new Error('the shared buckets failed less than a second ago');
      this.leases++;
      const r = await this.deps.store.lease(key, e.limit, want, need);
      granted = r.granted;
      left = r.tokens;
      e.fallback = undefined;
    } catch (err) {
      // The decision path fails closed without the database; the limiter goes on alone (see the top of this file).
      const t = this.now();
      if (t >= this.offlineUntil) this.offlineUntil = t + OFFLINE_MS;
      if (t - this.warnedAt > 10_000) {
        this.warnedAt = t;
        this.deps.log.warn({ err }, 'rate limits: the shared buckets cannot be reached; limiting in this process alone');
      }
      const r = lease(e.fallback ?? fullBucket(e.limit, t), t, e.limit, want, need);
      e.fallback = r.state;
      granted = r.granted;
      left = r.state.tokens;
    }
    const now = this.now();
    if (e.leasedUntil <= now) e.leased = 0;
    e.leased += granted;
    e.leasedUntil = now + this.deps.settings.leaseTtlMs;
    if (granted === 0) {
      // Fewer than `need` left: no statement for requests this large until they have refilled.
      e.refusedUntil = now + Math.max(1, ((need - left) / e.limit.rate) * 1000);
      e.refusedFor = need;
      e.retryAfter = retryAfterSeconds(left, need, e.limit);
    } else if (granted < want) {
      // Emptied by this lease: once it is spent, nothing is asked until a lease's worth has refilled.
      e.refusedUntil = now + Math.max(1, ((want - left) / e.limit.rate) * 1000);
      e.refusedFor = 1;
      e.retryAfter = retryAfterSeconds(left, 1, e.limit);
    }
  }

  private refuse(key: string, e: Local, route: DecisionLane, who: { principalId?: string; ip?: string | undefined }): RateLimitedError {
    this.deps.onLimited(route, e.cls);
    this.throttled.add(key, { cls: e.cls, route, principalId: who.principalId, ip: who.ip });
    const retry = Math.max(1, e.retryAfter);
    return new RateLimitedError(retry, {
      message: e.cls === 'address' ? 'Too many requests from this address. Slow down.' : 'Too many requests from this client. Slow down.',
      // draft-ietf-httpapi-ratelimit-headers: the policy (quota per window, in seconds) and what is left now.
      headers: {
        'RateLimit-Policy': `"${e.policy}";q=${Math.max(1, Math.round(e.limit.rate))};w=1`,
        RateLimit: `"${e.policy}";r=0;t=${retry}`,
      },
    });
  }

  /** Forgets keys idle for a while (memory stays bounded by the keys seen recently), and the shared buckets idle for a day. */
  private sweep(now: number): void {
    this.sweepAt = now + IDLE_MS;
    for (const [k, e] of this.locals) if (now - e.usedAt > IDLE_MS && !e.pending) this.locals.delete(k);
    this.deps.store.prune(PRUNE_IDLE_SECONDS).catch((err: unknown) => this.deps.log.warn({ err }, 'rate limits: pruning idle buckets failed'));
  }
}
