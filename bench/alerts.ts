/**
 * Detection's cost and speed: HTTP decision throughput with detection on
 * against off, in the same run (alternating rounds, the server restarted
 * between them with BENCH_DETECTION=1 or not), and the latency from a
 * record's commit to its alert while the decision load runs.
 *
 * Latency: probes run beside the load, one at a time: a denied decision
 * whose deny raises (a deny-burst threshold of 1, so every probe repeats one
 * alert), timed from its answer (the record is committed before the answer
 * leaves) to the `custos_alerts` notification of its alert (sent at the
 * commit of the alert). The measured figure slightly understates the true
 * one by the answer's own transfer time (well under a millisecond on
 * loopback).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import { createSql } from '../src/db/client.ts';
import { DEFAULT_MONITORING_FILE } from '../src/monitoring/policy.ts';
import { load, startBench } from './harness.ts';
import { envSchema } from '../src/config.ts';

/** The detection loop's default pause, from the configuration schema. */
const DEFAULT_POLL_MS = envSchema.shape.CUSTOS_MONITORING_POLL_MS.parse(undefined);
import { printTable, writeResult } from './util.ts';

/** The shipped policy, with a deny burst of one (every probe raises) and working hours around the clock (no after-hours alerts on the load). */
function benchPolicy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'custos-bench-alerts-'));
  const file = path.join(dir, 'monitoring.yaml');
  const text = readFileSync(DEFAULT_MONITORING_FILE, 'utf8')
    .replace('threshold: 20, window_seconds: 60', 'threshold: 1, window_seconds: 60')
    .replace('timezone: America/New_York', 'timezone: UTC')
    .replace('days: [mon, tue, wed, thu, fri]', 'days: [mon, tue, wed, thu, fri, sat, sun]')
    .replace('start: "07:00"', 'start: "00:00"')
    .replace('end: "19:00"', 'end: "23:59"');
  writeFileSync(file, text);
  return file;
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const policyFile = benchPolicy();
  // The default poll interval: the latency measured is the one a deployment gets.
  const setup = await startBench({ serverEnv: { CUSTOS_MONITORING_FILE: policyFile } });
  const { base, seeded } = setup;
  const seconds = smoke ? 3 : 5;
  const rounds = smoke ? 1 : 3;
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  const listener = createSql({ url: setup.databaseUrl, max: 1 });
  const probeBody = JSON.stringify({ ...JSON.parse(seeded.body), columns: ['mrn'] });
  try {
    const decide = () => load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds, connections });
    /** Waits until detection has judged every committed record (a round with detection off leaves a backlog it must not be charged for). */
    const caughtUp = async () => {
      for (let i = 0; i < 600; i++) {
        const [r] = await listener`SELECT count(*)::int AS n FROM audit_chains c LEFT JOIN monitoring_cursors m ON m.chain_id = c.id WHERE c.head_seq > coalesce(m.seq, 0)`;
        if (r!.n === 0) return;
        await new Promise((x) => setTimeout(x, 100));
      }
      throw new Error('detection did not catch up within 60 s');
    };
    // Warm-up (the first start, detection off), then alternate.
    await load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds: smoke ? 2 : 5, connections });
    const on: autocannon.Result[] = [];
    const off: autocannon.Result[] = [];
    for (let i = 0; i < rounds; i++) {
      await setup.restartServer({ BENCH_DETECTION: '1' });
      await caughtUp();
      on.push(await decide());
      await setup.restartServer({});
      off.push(await decide());
    }

    // Latency, with detection on and the decision load running.
    await setup.restartServer({ BENCH_DETECTION: '1' });
    await caughtUp();
    const seen: { id: string; at: number }[] = [];
    let waiter: (() => void) | undefined;
    await listener.listen('custos_alerts', (payload) => {
      seen.push({ id: (JSON.parse(payload) as { id: string }).id, at: performance.now() });
      waiter?.();
    });
    const probe = async (): Promise<{ status: number; at: number }> => {
      const res = await fetch(`${base}/v1/decisions`, { method: 'POST', headers: seeded.headers, body: probeBody });
      await res.arrayBuffer();
      return { status: res.status, at: performance.now() };
    };
    // The probes' alert: the scientist's deny burst (each probe repeats it).
    const first = await probe();
    if (first.status !== 200) throw new Error(`probe answered ${first.status}`);
    const [alert] = await listener`SELECT id FROM alerts WHERE dedupe_key = ${`deny_burst:principal:${seeded.scientistId}`}`.then(async (r) => {
      for (let i = 0; i < 100 && !r.length; i++) {
        await new Promise((x) => setTimeout(x, 50));
        r = await listener`SELECT id FROM alerts WHERE dedupe_key = ${`deny_burst:principal:${seeded.scientistId}`}`;
      }
      return r;
    });
    if (!alert) throw new Error('the probe raised no alert');
    const alertId = alert.id as string;
    const count = () => seen.filter((s) => s.id === alertId).length;
    await new Promise((r) => setTimeout(r, 500));
    const latencies: number[] = [];
    const background = load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds: smoke ? 3 : 15, connections });
    const probes = smoke ? 30 : 300;
    for (let i = 0; i < probes; i++) {
      const before = count();
      const p = await probe();
      if (p.status !== 200) continue;
      const notified = new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no alert notification within 10 s')), 10_000);
        waiter = () => {
          if (count() > before) {
            clearTimeout(t);
            resolve();
          }
        };
        waiter();
      });
      await notified;
      waiter = undefined;
      const n = seen.filter((s) => s.id === alertId)[before]!;
      latencies.push(Math.max(0, n.at - p.at));
    }
    const loadDuring = await background;

    const onRps = on.reduce((a, r) => a + r.requests.average, 0) / on.length;
    const offRps = off.reduce((a, r) => a + r.requests.average, 0) / off.length;
    const ratio = onRps / offRps;
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    printTable('Detection: decisions with detection on vs off; commit → alert latency under load', [
      ['connections', connections],
      ['rounds × seconds', `${rounds} × ${seconds}`],
      ['decisions req/s, detection on', onRps],
      ['decisions req/s, detection off', offRps],
      ['ratio with detection', `${(ratio * 100).toFixed(1)} %`],
      ['p99 ms on / off', `${Math.max(...on.map((r) => r.latency.p99))} / ${Math.max(...off.map((r) => r.latency.p99))}`],
      ['probes', latencies.length],
      ['commit → alert p50 ms', p50],
      ['commit → alert p99 ms', p99],
      ['decisions req/s during probes', loadDuring.requests.average],
    ]);
    writeResult('alerts', {
      decisions_per_s_on: Math.round(onRps),
      decisions_per_s_off: Math.round(offRps),
      ratio_with_detection: Math.round(ratio * 1000) / 1000,
      p50_ms: Math.round(p50 * 10) / 10,
      p99_ms: Math.round(p99 * 10) / 10,
      probes: latencies.length,
      load_during_probes_per_s: Math.round(loadDuring.requests.average),
      poll_ms: DEFAULT_POLL_MS,
      connections,
      seconds,
      rounds,
      smoke,
    });
  } finally {
    await listener.end({ timeout: 2 });
    await setup.stop();
  }
}
