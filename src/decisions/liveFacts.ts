/**
 * The facts decisions are made on, held in memory and kept true by
 * notification, never by a timer:
 *
 * - On (re)subscription the whole catalog image is read in one snapshot,
 *   after LISTEN is in force, so no change can fall between the two.
 * - Each change notification names a key (a principal, a vendor, a
 *   dataset); that key is read again, and until it is, every lookup waits.
 * - While the listener is away or the image is being read, nothing in
 *   memory is trusted: lookups read the database (`fallback`), uncached.
 * - `sync()` is a barrier: it sends a notification and waits for it to come
 *   back, so every change committed before it is in memory (or pending,
 *   which lookups wait for). Writes through this process call it before
 *   they answer; a heartbeat calls it too, and a barrier that never comes
 *   back declares the listener dead (a half-open connection delivers
 *   nothing and reports nothing).
 *
 * Built facts are memoised per record: a record is replaced, never changed,
 * when its rows are read again.
 */
import { utcDate } from '../catalog/classification.ts';
import type { BaaFacts, DatasetFacts, PrincipalFacts } from '../engine/types.ts';
import { datasetFacts, GRANT_HISTORY_MS, principalFacts, type DatasetRecord, type PrincipalRecord } from './buildFacts.ts';
import type { FactsStore } from './facts.ts';

/** Everything held in memory; also the answer to a read by key (a key asked for and absent no longer exists). */
export interface CatalogImage {
  principals: Map<string, PrincipalRecord>;
  /** BAAs by vendor id. */
  baas: Map<string, BaaFacts[]>;
  datasets: Map<string, DatasetRecord>;
}

/** Keys to read again. */
export interface CatalogKeys {
  principals: string[];
  vendors: string[];
  datasets: string[];
}

/** Where the image comes from (postgres/catalogRows.ts). */
export interface CatalogSource {
  loadAll(now: Date): Promise<CatalogImage>;
  load(keys: CatalogKeys, now: Date): Promise<CatalogImage>;
}

/** Counters, for benchmarks and operators. */
export interface LiveFactsStats {
  /** Lookups answered from memory (`unknown` among them). */
  hits: number;
  /** Lookups read from the database because memory could not be trusted. */
  misses: number;
  /** Lookups of ids that do not exist, answered from memory. */
  unknown: number;
  /** Lookups that waited for a key being read again. */
  waits: number;
  /** Whole images read. */
  resyncs: number;
  /** Keys read again after a notification. */
  refetched: number;
  /** Times memory stopped being trusted. */
  losses: number;
}

/** Which kind of key a table's notification names (migration 0022). */
const KEY_KIND: Readonly<Record<string, 'p' | 'v' | 'd'>> = { principals: 'p', role_assignments: 'p', grants: 'p', baas: 'v', datasets: 'd' };

const NO_BAAS: readonly BaaFacts[] = Object.freeze([]);

/** A promise with its resolver. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Options of {@link LiveFacts}. */
export interface LiveFactsOptions {
  /** Now, for the grant history window of a read (wall clock). */
  now?: () => Date;
  /** Past this many keys waiting to be read, the whole image is read instead. */
  maxPendingKeys?: number;
  /** A failed read: memory is not trusted until the next image. */
  onError?: (err: unknown, what: string) => void;
  /** Asked to read the whole image again after a failure, in this many ms. */
  retryMs?: number;
}

interface PrincipalMemo {
  facts: PrincipalFacts;
  baas: readonly BaaFacts[];
  sponsor: PrincipalFacts | undefined;
  /** The facts hold grants ending after this; past it + the history window, rebuild. */
  oldestGrantEnd: number;
}

/** Facts in memory, kept true by notification; see the file comment. */
export class LiveFacts implements FactsStore {
  readonly stats: LiveFactsStats = { hits: 0, misses: 0, unknown: 0, waits: 0, resyncs: 0, refetched: 0, losses: 0 };
  private image: CatalogImage | undefined;
  /** Memory is trusted: the listener is in force and the image read after it. */
  private trusted = false;
  /** Bumped whenever trust is lost or an image read starts: a read from an older generation is discarded. */
  private generation = 0;
  private listening = false;
  /** Keys notified and not yet being read (`p:`, `v:`, `d:` + id). */
  private pending = new Set<string>();
  /** Runs while notified keys are read; lookups wait for it. */
  private flushing: Promise<void> | undefined;
  private barriers = new Map<string, () => void>();
  private retry: NodeJS.Timeout | undefined;
  private readonly principalMemo = new WeakMap<PrincipalRecord, PrincipalMemo>();
  private readonly datasetMemo = new WeakMap<DatasetRecord, { day: string; facts: DatasetFacts }>();

  private readonly source: CatalogSource;
  private readonly fallback: FactsStore;
  private readonly now: () => Date;
  private readonly maxPendingKeys: number;
  private readonly onError: (err: unknown, what: string) => void;
  private readonly retryMs: number;
  constructor(source: CatalogSource, fallback: FactsStore, options: LiveFactsOptions = {}) {
    this.source = source;
    this.fallback = fallback;
    this.now = options.now ?? (() => new Date());
    this.maxPendingKeys = options.maxPendingKeys ?? 5_000;
    this.onError = options.onError ?? (() => {});
    this.retryMs = options.retryMs ?? 1000;
  }

  /** Whether lookups are answered from memory now. */
  get isTrusted(): boolean {
    return this.trusted;
  }

  /**
   * While memory is trusted, a number that changes whenever trust was lost
   * in between; undefined while it is not. Caches that follow the same
   * notifications (client contexts) serve entries only under one epoch.
   */
  get trustEpoch(): number | undefined {
    return this.trusted ? this.generation : undefined;
  }

  /** How many principals, datasets and vendors (with BAAs) are held (start-up log, memory measurements). */
  get size(): { principals: number; datasets: number; vendors: number } {
    return { principals: this.image?.principals.size ?? 0, datasets: this.image?.datasets.size ?? 0, vendors: this.image?.baas.size ?? 0 };
  }

  // --- the listener's events -------------------------------------------------

  /** LISTEN is in force: read the whole image (changes from now on are notified). */
  listeningStarted(): void {
    this.listening = true;
    this.resync();
  }

  /** The listener is gone: changes may be missed from now on. */
  listeningLost(): void {
    this.listening = false;
    this.distrust();
  }

  /** A notification's payload. */
  notified(payload: string): void {
    const colon = payload.indexOf(':');
    const table = colon < 0 ? payload : payload.slice(0, colon);
    if (table === 'sync') {
      this.barriers.get(payload)?.();
      return;
    }
    const kind = KEY_KIND[table];
    if (!kind) return;
    // A statement without keys (TRUNCATE): read everything again.
    if (colon < 0) return this.resync();
    this.pending.add(`${kind}:${payload.slice(colon + 1)}`);
    if (this.pending.size > this.maxPendingKeys) return this.resync();
    this.kick();
  }

  /**
   * A barrier: resolves once every change committed before the call is in
   * memory or waited for, or once memory is not trusted (lookups then read
   * the database). `send` notifies `payload` through the pool; a barrier not
   * back within `timeoutMs` calls `dead`, which must end the listener.
   */
  async sync(send: (payload: string) => Promise<void>, dead: (reason: string) => void, timeoutMs: number): Promise<void> {
    if (!this.listening) return;
    const payload = `sync:${crypto.randomUUID()}`;
    const back = deferred();
    this.barriers.set(payload, back.resolve);
    let timer: NodeJS.Timeout | undefined;
    try {
      await send(payload);
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
        timer.unref();
      });
      if ((await Promise.race([back.promise, timedOut])) === 'timeout' && this.listening) {
        this.distrust();
        dead(`a barrier notification did not come back within ${timeoutMs} ms`);
      }
    } catch (err) {
      // The pool could not send it: whether the listener still hears anything is unknown.
      this.onError(err, 'barrier');
      this.distrust();
      dead('a barrier notification could not be sent');
    } finally {
      clearTimeout(timer);
      this.barriers.delete(payload);
    }
  }

  /** Stops retries (at shutdown). */
  stop(): void {
    this.listening = false;
    this.distrust();
  }

  // --- lookups --------------------------------------------------------------

  /** Waits for keys being read again; then whether memory may answer (if not, the lookup is counted as read from the database). */
  private async fromMemory(): Promise<boolean> {
    if (this.flushing) {
      this.stats.waits++;
      await this.flushing;
    }
    if (this.trusted) return true;
    this.stats.misses++;
    return false;
  }

  async principal(id: string, now: Date): Promise<PrincipalFacts | undefined> {
    if ((this.flushing || !this.trusted) && !(await this.fromMemory())) return this.fallback.principal(id, now);
    const rec = this.image!.principals.get(id);
    this.stats.hits++;
    if (!rec) {
      this.stats.unknown++;
      return undefined;
    }
    return this.principalOf(rec, now.getTime(), 0);
  }

  async dataset(id: string, now: Date): Promise<DatasetFacts | undefined> {
    if ((this.flushing || !this.trusted) && !(await this.fromMemory())) return this.fallback.dataset(id, now);
    const rec = this.image!.datasets.get(id);
    this.stats.hits++;
    if (!rec) {
      this.stats.unknown++;
      return undefined;
    }
    const day = utcDate(now);
    const memo = this.datasetMemo.get(rec);
    if (memo && memo.day === day) return memo.facts;
    const facts = datasetFacts(rec, day);
    this.datasetMemo.set(rec, { day, facts });
    return facts;
  }

  /** A principal's facts from memory: the memo while its inputs (record, BAAs, sponsor, grant window) are the same objects. */
  private principalOf(rec: PrincipalRecord, now: number, depth: number): PrincipalFacts {
    const baas = rec.vendorId ? (this.image!.baas.get(rec.vendorId) ?? NO_BAAS) : NO_BAAS;
    const sponsorRec = rec.kind === 'service' && rec.sponsorId && depth === 0 ? this.image!.principals.get(rec.sponsorId) : undefined;
    const sponsor = sponsorRec ? this.principalOf(sponsorRec, now, 1) : undefined;
    const memo = this.principalMemo.get(rec);
    if (memo && memo.baas === baas && memo.sponsor === sponsor && memo.oldestGrantEnd > now - GRANT_HISTORY_MS) return memo.facts;
    const facts = principalFacts(rec, baas, now, sponsor);
    let oldestGrantEnd = Infinity;
    for (const g of facts.grants) if (g.expiresAt < oldestGrantEnd) oldestGrantEnd = g.expiresAt;
    this.principalMemo.set(rec, { facts, baas, sponsor, oldestGrantEnd });
    return facts;
  }

  // --- keeping the image true -------------------------------------------------

  /** Memory is no longer trusted; what was pending is covered by the next image. */
  private distrust(): void {
    if (this.trusted) this.stats.losses++;
    this.trusted = false;
    this.generation++;
    this.pending.clear();
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    // Barriers resolve: lookups read the database until the next image.
    for (const resolve of this.barriers.values()) resolve();
  }

  /** Reads the whole image again (only while listening: otherwise changes would be missed after it). */
  private resync(): void {
    this.distrust();
    if (!this.listening) return;
    const generation = this.generation;
    this.source.loadAll(this.now()).then(
      (image) => {
        if (generation !== this.generation) return;
        this.image = image;
        this.trusted = true;
        this.stats.resyncs++;
        // Keys notified while the image was read may predate it or not: read them again.
        this.kick();
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.onError(err, 'image');
        this.retry = setTimeout(() => {
          this.retry = undefined;
          if (generation === this.generation) this.resync();
        }, this.retryMs);
        this.retry.unref();
      },
    );
  }

  /** Starts reading the pending keys, unless a read is running (it picks them up when done). */
  private kick(): void {
    if (!this.trusted || this.flushing || !this.pending.size) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      // Keys notified during the last read of a generation that ended are covered by the image read since.
      this.kick();
    });
  }

  /** Reads pending keys, batch after batch, until none is left; a failure ends trust. */
  private async flush(): Promise<void> {
    // One transaction's notifications arrive together: let them all be queued, then read them in one go.
    await null;
    while (this.pending.size && this.trusted) {
      const generation = this.generation;
      const keys: CatalogKeys = { principals: [], vendors: [], datasets: [] };
      for (const k of this.pending) (k[0] === 'p' ? keys.principals : k[0] === 'v' ? keys.vendors : keys.datasets).push(k.slice(2));
      const count = this.pending.size;
      this.pending.clear();
      let rows: CatalogImage;
      try {
        rows = await this.source.load(keys, this.now());
      } catch (err) {
        if (generation !== this.generation) return;
        this.onError(err, 'keys');
        // What the keys hold now is unknown: read everything again.
        this.resync();
        return;
      }
      if (generation !== this.generation) return;
      this.stats.refetched += count;
      this.apply(keys, rows);
    }
  }

  /** Replaces the records of the keys read (absent: deleted). */
  private apply(keys: CatalogKeys, rows: CatalogImage): void {
    const image = this.image!;
    for (const id of keys.principals) {
      const rec = rows.principals.get(id);
      if (rec) image.principals.set(id, rec);
      else image.principals.delete(id);
    }
    for (const id of keys.vendors) {
      const baas = rows.baas.get(id);
      if (baas) image.baas.set(id, baas);
      else image.baas.delete(id);
    }
    for (const id of keys.datasets) {
      const rec = rows.datasets.get(id);
      if (rec) image.datasets.set(id, rec);
      else image.datasets.delete(id);
    }
  }
}
