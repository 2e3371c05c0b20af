/**
 * Metrics of the whole server when it runs as a cluster (src/main.ts,
 * CUSTOS_WORKERS > 1). A scrape lands on one worker, but must report every
 * worker's counts. The worker asks the primary over the cluster's IPC
 * channel; the primary gathers every worker's registry with prom-client's
 * AggregatorRegistry (which asks each worker in turn over the same channel)
 * and sends the merged text back. Counters and histograms are summed; a
 * metric that every worker reports alike says how it merges (`aggregator`
 * in metrics.ts: build info `first`, open alerts `max`).
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { UnavailableError } from '../errors.ts';

const REQUEST = 'custos:metrics-request';
const ANSWER = 'custos:metrics-answer';

/** How long a worker waits for the merged metrics (prom-client gives up on a silent worker after 5 s). */
const WAIT_MS = 8000;

interface Answer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

function isMessage(m: unknown, type: string): m is { type: string; id: number } {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type && typeof (m as { id?: unknown }).id === 'number';
}

/** In the primary: answers each worker's request with the metrics of every worker, merged. */
export function serveClusterMetrics(onError: (err: unknown) => void): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage(message, REQUEST)) return;
    const reply = (a: Omit<Answer, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, ...a });
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: unknown) => {
        onError(err);
        reply({ error: 'the workers did not all answer' });
      },
    );
  });
}

/**
 * In a worker: lets the primary read `registry` (prom-client answers its
 * requests once an AggregatorRegistry exists in this process), and returns
 * the scrape: the merged metrics of every worker, asked of the primary.
 */
export function clusterScrape(registry: Registry): () => Promise<string> {
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: unknown) => void; timer: NodeJS.Timeout }>();
  process.on('message', (message: unknown) => {
    if (!isMessage(message, ANSWER)) return;
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    clearTimeout(w.timer);
    const a = message as Answer;
    if (a.text !== undefined) w.resolve(a.text);
    else w.reject(new UnavailableError({ reason: a.error ?? 'no metrics from the primary' }));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new UnavailableError({ reason: 'the primary did not answer with the metrics' }));
      }, WAIT_MS);
      waiting.set(id, { resolve, reject, timer });
      process.send!({ type: REQUEST, id }, undefined, {}, (err: Error | null) => {
        if (!err) return;
        waiting.delete(id);
        clearTimeout(timer);
        reject(new UnavailableError(err));
      });
    });
}
