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
}

/** Group-committing, hash-chaining writer of one log. */
export class ChainedWriter<T> {
  private readonly lanes: { committer: GroupCommitter<T>; chain: Promise<string> | undefined; queued: number }[];
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

  private readonly sql: Sql;
  private readonly o: ChainedWriterOptions<T>;
  constructor(
    sql: Sql,
    o: ChainedWriterOptions<T>,
  ) {
    this.sql = sql;
    this.o = o;
    const lanes = o.lanes ?? 1;
    this.lanes = Array.from({ length: lanes }, () => {
      const lane: (typeof this.lanes)[number] = {
        chain: undefined,
        queued: 0,
        committer: new GroupCommitter<T>({
          maxBatch: o.maxBatch ?? 256,
          maxQueue: Math.ceil((o.maxQueue ?? 10_000) / lanes),
          concurrency: 1,
          flush: async (batch) => {
            const chain = await this.chainOf(lane);
            const text = this.o.rows(batch);
            const fn = this.o.log === 'decision_log' ? sql`custos_append_decisions` : sql`custos_append_audit`;
            await sql`SELECT ${fn}(${chain}::uuid, ${text}::text::jsonb)`;
          },
        }),
      };
      return lane;
    });
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
