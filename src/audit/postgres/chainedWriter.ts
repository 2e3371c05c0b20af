/**
 * Appends records to hash chains with group commit. A writer has one or
 * more lanes; each lane is one chain (registered on first use, owned by this
 * process) with one transaction in flight at a time, so its records are
 * linked in commit order and a failed transaction leaves no gap. More lanes
 * let commits overlap; one lane makes larger batches, which measured cheaper
 * for the decision log. Replicas have chains of their own.
 */
import { hostname } from 'node:os';
import type { IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import { AuditUnavailableError } from '../../errors.ts';
import { GroupCommitter } from '../groupCommit.ts';
import { NotRenderableError } from '../jsonbText.ts';
import { link } from './decisionEncoding.ts';

/** The chained logs. */
export type ChainedLog = 'decision_log' | 'audit_events';

/** Options of {@link ChainedWriter}. */
export interface ChainedWriterOptions<T> {
  log: ChainedLog;
  /** Turns a batch into the JSON array text the append function reads. */
  rows: (batch: T[]) => string;
  ids: IdGenerator;
  lanes?: number;
  maxBatch?: number;
  maxQueue?: number;
  /**
   * Links batches in process (decision_log only): `encode` gives an item's
   * chain encoding exactly as the log's encoding function would, `row` its
   * row object text (the form `rows` joins). The database then checks the
   * head and stores the rows without re-encoding them. Where `encode`
   * throws, that batch is linked by the database as before.
   */
  inProcess?: { encode: (item: T, chain: string, seq: number) => string; row: (item: T) => string };
  /** Told when a sampled self-check finds in-process links differing from the database's encoding. */
  onMismatch?: (detail: { chain: string; from: number; to: number }) => void;
  /** Told after each group commit of this log, committed or not: records in it and seconds taken (metrics). */
  onCommit?: (log: ChainedLog, size: number, seconds: number, ok: boolean) => void;
}

/** A chain's head as this process last committed it. */
interface Head {
  seq: number;
  hash: Buffer;
}

/** Every how many in-process batches one is re-encoded by the database and compared (the first one always). */
const SELF_CHECK_EVERY = 1000;

/** One lane: a chain with one commit in flight. */
interface Lane<T> {
  committer: GroupCommitter<T>;
  chain: Promise<string> | undefined;
  /** The head after this lane's last commit; unknown (read again) after a failure or a database-linked batch. */
  head: Head | undefined;
  queued: number;
}

/** Group-committing, hash-chaining writer of one log. */
export class ChainedWriter<T> {
  private readonly lanes: Lane<T>[];
  /** False once a self-check found a difference: every batch is then linked by the database. */
  private inProcess: boolean;
  private linkedBatches = 0;
  /**
   * The chain of records appended inside callers' transactions ({@link appendIn}):
   * its own, so a change transaction never waits behind a group commit, nor
   * a group commit behind a change. Registered inside the first transaction
   * that commits an append (see appendIn).
   */
  private txChain: string | undefined;
  /** Batches and items committed, summed over lanes. */
  get stats(): { batches: number; items: number; failedBatches: number; rejectedFull: number } {
    const s = { batches: 0, items: 0, failedBatches: 0, rejectedFull: 0 };
    for (const l of this.lanes) for (const k of Object.keys(s) as (keyof typeof s)[]) s[k] += l.committer.stats[k];
    return s;
  }

  /** Records waiting for a group commit, summed over lanes (not yet in a transaction). */
  get waiting(): number {
    let n = 0;
    for (const l of this.lanes) n += l.committer.waiting;
    return n;
  }

  private readonly sql: Sql;
  private readonly o: ChainedWriterOptions<T>;
  constructor(
    sql: Sql,
    o: ChainedWriterOptions<T>,
  ) {
    this.sql = sql;
    this.o = o;
    const lanes = o.lanes ?? 1;
    this.inProcess = o.inProcess !== undefined && o.log === 'decision_log';
    const onCommit = o.onCommit;
    const onFlushed = onCommit && ((size: number, seconds: number, ok: boolean) => onCommit(o.log, size, seconds, ok));
    this.lanes = Array.from({ length: lanes }, () => {
      const lane: Lane<T> = {
        chain: undefined,
        head: undefined,
        queued: 0,
        committer: new GroupCommitter<T>({
          maxBatch: o.maxBatch ?? 256,
          maxQueue: Math.ceil((o.maxQueue ?? 10_000) / lanes),
          concurrency: 1,
          onFlushed,
          flush: async (batch) => {
            const chain = await this.chainOf(lane);
            try {
              if (this.inProcess && (await this.appendLinked(lane, chain, batch))) return;
              // Linked by the database: the head moves where this process does not follow it.
              lane.head = undefined;
              const text = this.o.rows(batch);
              const fn = this.o.log === 'decision_log' ? sql`custos_append_decisions` : sql`custos_append_audit`;
              await sql`SELECT ${fn}(${chain}::uuid, ${text}::text::jsonb)`;
            } catch (err) {
              // The outcome may be unknown (a commit whose answer was lost): read the head again before the next batch.
              lane.head = undefined;
              throw err;
            }
          },
        }),
      };
      return lane;
    });
  }

  /**
   * Links `batch` from the lane's head and stores it; false where an item
   * has no in-process encoding (the caller lets the database link it). The
   * database refuses the batch if the chain's head is not the one it was
   * linked from.
   */
  private async appendLinked(lane: Lane<T>, chain: string, batch: T[]): Promise<boolean> {
    const { encode, row } = this.o.inProcess!;
    const head = (lane.head ??= await this.headOf(chain));
    let hash = head.hash;
    let rows = '[';
    try {
      for (let i = 0; i < batch.length; i++) {
        const seq = head.seq + i + 1;
        const prev = hash;
        hash = link(prev, encode(batch[i]!, chain, seq));
        const r = row(batch[i]!);
        rows += `${i ? ',' : ''}${r.slice(0, -1)},"chain_id":"${chain}","seq":${seq},"prev_hash":"\\\\x${prev.toString('hex')}","hash":"\\\\x${hash.toString('hex')}"}`;
      }
    } catch (err) {
      if (err instanceof NotRenderableError) return false;
      throw err;
    }
    await this.sql`SELECT custos_insert_linked_decisions(${chain}::uuid, ${String(head.seq)}::bigint, ${head.hash}::bytea, ${hash}::bytea, ${rows + ']'}::text::json)`;
    const from = head.seq + 1;
    lane.head = { seq: head.seq + batch.length, hash };
    if (this.linkedBatches++ % SELF_CHECK_EVERY === 0) void this.selfCheck(chain, from, lane.head.seq);
    return true;
  }

  /** The chain's head as committed. */
  private async headOf(chain: string): Promise<Head> {
    const [r] = await this.sql<{ seq: string; hash: Buffer }[]>`SELECT head_seq::text AS seq, head_hash AS hash FROM audit_chains WHERE id = ${chain}`;
    if (!r) throw new AuditUnavailableError({ reason: `unknown chain ${chain}` });
    return { seq: Number(r.seq), hash: r.hash };
  }

  /**
   * Re-encodes records this process linked with the database's own
   * encoding and compares: a difference (an encoding this code renders
   * otherwise than jsonb) would read as tampering at verification, so it
   * stops in-process linking for good and is reported.
   */
  private async selfCheck(chain: string, from: number, to: number): Promise<void> {
    try {
      const [r] = await this.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM decision_log d
        WHERE d.chain_id = ${chain} AND d.seq BETWEEN ${String(from)}::bigint AND ${String(to)}::bigint
          AND d.hash IS DISTINCT FROM sha256(d.prev_hash || sha256(convert_to(custos_decision_enc(d), 'UTF8')))`;
      if (r && r.n > 0) {
        this.inProcess = false;
        this.o.onMismatch?.({ chain, from, to });
      }
    } catch {
      // Unchecked this time; a later sample checks again.
    }
  }

  /** The chains this writer has registered so far. */
  async chains(): Promise<string[]> {
    const out: string[] = [];
    for (const l of this.lanes) if (l.chain) out.push(await l.chain.catch(() => ''));
    // Listed even before its registration has committed: a checkpointer skips a chain it cannot find.
    if (this.txChain) out.push(this.txChain);
    return out.filter(Boolean);
  }

  /** The lane's chain, registered on first use. */
  private chainOf(lane: { chain: Promise<string> | undefined }): Promise<string> {
    if (!lane.chain) {
      const id = this.o.ids();
      lane.chain = this.sql`
        INSERT INTO audit_chains (id, log, instance, started_at) VALUES (${id}, ${this.o.log}, ${`${hostname()}:${process.pid}`}, now())`.then(() => id);
      // A failed registration is retried with the next batch.
      lane.chain.catch(() => (lane.chain = undefined));
    }
    return lane.chain;
  }

  /**
   * Appends a record inside the caller's transaction `tx`: it commits with
   * the caller's change or not at all. The chain head stays locked until
   * `tx` ends, so transactional appends of this process queue behind each
   * other (they are admin-plane changes, not the hot path).
   */
  async appendIn(tx: Tx, item: T): Promise<void> {
    try {
      // The chain is registered through `tx` itself, not a second connection:
      // with every pooled connection held by a transaction waiting here, a
      // registration needing one more would wait forever. Until a registering
      // transaction commits, each append repeats the (idempotent) insert.
      const chain = (this.txChain ??= this.o.ids());
      await tx`
        INSERT INTO audit_chains (id, log, instance, started_at) VALUES (${chain}, ${this.o.log}, ${`${hostname()}:${process.pid}:tx`}, now())
        ON CONFLICT (id) DO NOTHING`;
      const fn = this.o.log === 'decision_log' ? tx`custos_append_decisions` : tx`custos_append_audit`;
      await tx`SELECT ${fn}(${chain}::uuid, ${this.o.rows([item])}::text::jsonb)`;
    } catch (err) {
      // Whatever the cause, the change cannot keep its trace: it must not commit (503, saying why).
      throw err instanceof AuditUnavailableError ? err : new AuditUnavailableError({ reason: `${this.o.log} record could not be written`, error: err });
    }
  }

  /** Resolves once the record is committed in its chain. */
  submit(item: T): Promise<void> {
    // The lane with the least waiting takes it.
    let best = this.lanes[0]!;
    for (const l of this.lanes) if (l.queued < best.queued) best = l;
    best.queued++;
    return best.committer.submit(item).finally(() => best.queued--);
  }
}
