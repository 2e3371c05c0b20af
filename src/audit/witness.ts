/**
 * Witnesses: places outside the database's reach where every anchor is
 * written (anchors.ts); the webhook witness is in postgres/webhookWitness.ts. A witness that cannot be written is never skipped
 * in silence: its anchors wait (bounded) and are retried on the next
 * publication, its status shows in /readyz, and the first failure and the
 * recovery are each logged and recorded as audit events.
 */
import { open } from 'node:fs/promises';
import type { Logger } from '../logger.ts';
import type { Anchor } from './anchors.ts';

/** A place anchors are written to. */
export interface Witness {
  readonly name: string;
  /** Writes the anchors, durably where the medium allows; throws if it cannot. */
  write(anchors: readonly Anchor[]): Promise<void>;
}

/** An append-only file of JSON lines, flushed to disk (fdatasync) before a write counts; meant for a separate or WORM volume. */
export class AnchorFileWitness implements Witness {
  // Named without its path: /readyz is public.
  readonly name = 'file';
  private readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  async write(anchors: readonly Anchor[]): Promise<void> {
    // 'a': O_APPEND, so concurrent writers never overwrite each other; never truncated or rewritten by Custos.
    const f = await open(this.path, 'a', 0o640);
    try {
      await f.writeFile(anchors.map((a) => JSON.stringify(a) + '\n').join(''));
      await f.datasync();
    } finally {
      await f.close();
    }
  }
}

/** The structured log stream (shipped off the host by the platform's log collector). */
export class LogStreamWitness implements Witness {
  readonly name = 'log';
  private readonly log: Logger;
  constructor(log: Logger) {
    this.log = log;
  }
  async write(anchors: readonly Anchor[]): Promise<void> {
    for (const anchor of anchors) this.log.info({ anchor }, 'audit anchor');
  }
}

/** A witness's health, as /readyz reports it. */
export interface WitnessStatus {
  name: string;
  ok: boolean;
  /** Anchors waiting to be written to it. */
  pending: number;
  /** Anchors given up because too many waited (each is still in the other witnesses). */
  dropped: number;
  failures: number;
  last_error: string | null;
  failing_since: string | null;
  last_written_at: string | null;
}

/** Anchors kept per failing witness before the oldest are given up. */
const MAX_PENDING = 100_000;

/** Writes anchors to every witness, and keeps count of which cannot be written. */
export class Witnesses {
  private readonly state: { witness: Witness; pending: Anchor[]; status: WitnessStatus }[];

  private readonly o: { log: Logger; onChange?: (status: WitnessStatus, error: unknown) => Promise<void> };
  constructor(
    witnesses: readonly Witness[],
    o: { log: Logger; onChange?: (status: WitnessStatus, error: unknown) => Promise<void> },
  ) {
    this.o = o;
    this.state = witnesses.map((witness) => ({
      witness,
      pending: [],
      status: { name: witness.name, ok: true, pending: 0, dropped: 0, failures: 0, last_error: null, failing_since: null, last_written_at: null },
    }));
  }

  private queue: Promise<void> = Promise.resolve();

  /** Writes `anchors` (after any still waiting) to every witness, one publication at a time, in order; never throws. */
  publish(anchors: readonly Anchor[]): Promise<void> {
    const next = this.queue.then(() => this.publishNow(anchors));
    this.queue = next;
    return next;
  }

  private async publishNow(anchors: readonly Anchor[]): Promise<void> {
    await Promise.all(
      this.state.map(async (s) => {
        s.pending.push(...anchors);
        if (s.pending.length > MAX_PENDING) s.status.dropped += s.pending.splice(0, s.pending.length - MAX_PENDING).length;
        if (s.pending.length === 0) return;
        const batch = s.pending.slice();
        try {
          await s.witness.write(batch);
          s.pending.splice(0, batch.length);
          const recovered = !s.status.ok;
          Object.assign(s.status, { ok: true, failing_since: null, last_written_at: new Date().toISOString() });
          if (recovered) {
            this.o.log.info({ witness: s.witness.name }, 'audit anchor witness recovered');
            await this.report({ ...s.status }, null);
          }
        } catch (err) {
          const first = s.status.ok;
          Object.assign(s.status, { ok: false, failures: s.status.failures + 1, last_error: describe(err), failing_since: s.status.failing_since ?? new Date().toISOString() });
          if (first) {
            this.o.log.error({ witness: s.witness.name, error: s.status.last_error }, 'audit anchors cannot be written to a witness; they wait and are retried');
            await this.report({ ...s.status }, err);
          }
        }
        s.status.pending = s.pending.length;
      }),
    );
  }

  private async report(status: WitnessStatus, err: unknown): Promise<void> {
    try {
      await this.o.onChange?.(status, err);
    } catch (e) {
      this.o.log.error({ err: e, witness: status.name }, 'recording a change of an anchor witness failed');
    }
  }

  /** Every witness's status. */
  status(): WitnessStatus[] {
    return this.state.map((s) => ({ ...s.status }));
  }

  /** Whether anything is configured to witness. */
  get size(): number {
    return this.state.length;
  }
}

/** An error as one line (file system errors say their code, never a stack). */
function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ? `${e.code}` : 'write failed';
}
