/**
 * Alerts as the detectors raise them: an INSERT that folds a repeat of an
 * unresolved pattern into its alert (`dedupe_key`, migration 0023), the
 * evidence rows, and the `custos_alerts` notification, in one transaction,
 * on a connection of the caller's choosing (the application's role, like
 * the server). Also a Server-Sent Events client over real HTTP.
 */
import { randomUUID } from 'node:crypto';
import type { Sql } from '../../src/db/client.ts';

/** What to raise; everything but the subject has a default. */
export interface RaiseOptions {
  subject: string;
  detector?: string;
  severity?: 'low' | 'medium' | 'high' | 'critical';
  dedupeKey?: string;
  title?: string;
  at?: Date;
  evidence?: { log: 'decision_log' | 'audit_events'; record_id: string; at: string }[];
}

/** Raises (or repeats) an alert as a detector does; returns its id and what happened. */
export async function raiseAlert(sql: Sql, o: RaiseOptions): Promise<{ id: string; event: 'raised' | 'repeated' }> {
  const at = o.at ?? new Date();
  return (await sql.begin(async (tx) => {
    const [row] = await tx<{ id: string; occurrences: number }[]>`
      INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, details, first_at, last_at)
      VALUES (${randomUUID()}, ${o.detector ?? 'denied-burst'}, ${o.severity ?? 'high'}, ${o.subject}, ${o.dedupeKey ?? `${o.detector ?? 'denied-burst'}:${o.subject}`},
              ${o.title ?? 'Many denied requests'}, ${tx.json({ window: '5m' })}, ${at}, ${at})
      ON CONFLICT (dedupe_key) WHERE status <> 'resolved'
      DO UPDATE SET occurrences = alerts.occurrences + 1, last_at = excluded.last_at
      RETURNING id, occurrences`;
    for (const e of o.evidence ?? []) {
      await tx`INSERT INTO alert_evidence (alert_id, log, record_id, at) VALUES (${row!.id}, ${e.log}, ${e.record_id}, ${e.at}::text::timestamptz) ON CONFLICT DO NOTHING`;
    }
    const event = row!.occurrences === 1 ? 'raised' : 'repeated';
    await tx`SELECT pg_notify('custos_alerts', ${JSON.stringify({ id: row!.id, event })})`;
    return { id: row!.id, event };
  })) as { id: string; event: 'raised' | 'repeated' };
}

/** One received SSE event. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: any;
}

/** An open alert stream. */
export interface SseClient {
  status: number;
  headers: Headers;
  /** Every event so far, in order. */
  events: SseEvent[];
  /** Comment lines received (heartbeats). */
  comments: string[];
  /** Resolves with the first event (from `from` on) matching `pred`, or rejects after `ms`. */
  next(pred: (e: SseEvent) => boolean, ms?: number, from?: number): Promise<SseEvent>;
  /** Resolves when the server ended the stream (true), or after `ms` (false). */
  ended(ms: number): Promise<boolean>;
  close(): void;
}

/** Opens GET /v1/alerts/stream with a bearer token (and `Last-Event-ID`). */
export async function openStream(url: string, token: string, lastEventId?: string): Promise<SseClient> {
  const ctrl = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const res = await fetch(`${url}/v1/alerts/stream`, { headers, signal: ctrl.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let done = false;
  const waiters = new Set<() => void>();
  const kick = () => {
    for (const w of [...waiters]) w();
  };
  if (res.body && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    void (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body!) {
          buf += decoder.decode(chunk as Uint8Array, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const e: Partial<SseEvent> & { dataLines: string[] } = { dataLines: [] };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comments.push(line.slice(1).trim());
              else if (line.startsWith('id: ')) e.id = line.slice(4);
              else if (line.startsWith('event: ')) e.event = line.slice(7);
              else if (line.startsWith('data: ')) e.dataLines.push(line.slice(6));
            }
            if (e.event || e.dataLines.length) events.push({ id: e.id, event: e.event ?? 'message', data: e.dataLines.length ? JSON.parse(e.dataLines.join('\n')) : undefined });
            kick();
          }
        }
      } catch {
        /* aborted or cut */
      }
      done = true;
      kick();
    })();
  } else {
    done = true;
  }
  return {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    next(pred, ms = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.slice(from).find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          } else if (done) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`stream ended without the event; got ${JSON.stringify(events.map((x) => [x.id, x.event]))}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such event within ${ms} ms; got ${JSON.stringify(events.map((x) => [x.id, x.event]))}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    ended(ms) {
      return new Promise((resolve) => {
        const check = () => {
          if (done) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(true);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          resolve(false);
        }, ms);
        waiters.add(check);
        check();
      });
    },
    close() {
      ctrl.abort();
    },
  };
}
