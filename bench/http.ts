/**
 * HTTP decision throughput with durable records (every answer's record is
 * committed first) against a bare express hello-world route served by the
 * same process, on one machine: ratio and p99 latency.
 */
import { load, startBench } from './harness.ts';
import { printTable, writeResult } from './util.ts';

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const { base, seeded, stop } = await startBench();
  const seconds = smoke ? 3 : 15;
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  try {
    // Warm both paths (JIT, connection pool, credential cache).
    await load({ url: `${base}/hello`, method: 'GET', seconds: 2, connections });
    await load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds: 2, connections });
    const before = await seeded.countRecords();

    const hello = await load({ url: `${base}/hello`, method: 'GET', seconds, connections });
    const decisions = await load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds, connections });
    const recorded = (await seeded.countRecords()) - before;

    const helloRps = hello.requests.average;
    const decRps = decisions.requests.average;
    const ratio = decRps / helloRps;
    printTable('HTTP: durable decisions vs bare express hello-world (same process)', [
      ['connections', connections],
      ['seconds per run', seconds],
      ['hello req/s', helloRps],
      ['hello p99 ms', hello.latency.p99],
      ['decisions req/s', decRps],
      ['decisions p99 ms', decisions.latency.p99],
      ['decisions 2xx', decisions['2xx']],
      ['decisions non-2xx', decisions.non2xx],
      ['records committed', recorded],
      ['ratio', `${(ratio * 100).toFixed(1)} %`],
    ]);
    if (recorded < decisions['2xx']) throw new Error(`only ${recorded} records for ${decisions['2xx']} answers`);
    writeResult('http', {
      decisions_per_s: Math.round(decRps),
      hello_per_s: Math.round(helloRps),
      ratio: Math.round(ratio * 1000) / 1000,
      p99_ms: decisions.latency.p99,
      hello_p99_ms: hello.latency.p99,
      answered_2xx: decisions['2xx'],
      non_2xx: decisions.non2xx,
      records_committed: recorded,
      connections,
      seconds,
      smoke,
    });
  } finally {
    await stop();
  }
}
