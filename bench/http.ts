/**
 * HTTP decision throughput with durable records (every answer's record is
 * committed first) against a bare express hello-world route served by the
 * same process, on one machine: ratio and p99 latency.
 */
import type autocannon from 'autocannon';
import { addCpu, combine, cpuSince, load, startBench, type CpuSeconds } from './harness.ts';
import { printTable, writeResult } from './util.ts';

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const { base, seeded, stop, cpu } = await startBench();
  const seconds = smoke ? 3 : 5;
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  try {
    // Warm both paths (JIT, connection pool, credential cache): the first seconds run measurably colder.
    const warm = smoke ? 2 : 5;
    await load({ url: `${base}/hello`, method: 'GET', seconds: warm, connections });
    await load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds: warm, connections });
    const before = await seeded.countRecords();

    // Alternating rounds, so drift in the load of this shared machine hits both sides alike.
    const rounds = smoke ? 1 : 3;
    const hellos: autocannon.Result[] = [];
    const runs: autocannon.Result[] = [];
    let helloCpu: CpuSeconds = { server: 0, postgres: 0, load: 0 };
    let decCpu: CpuSeconds = { server: 0, postgres: 0, load: 0 };
    for (let i = 0; i < rounds; i++) {
      let t = cpu();
      hellos.push(await load({ url: `${base}/hello`, method: 'GET', seconds, connections }));
      helloCpu = addCpu(helloCpu, cpuSince(t, (t = cpu())));
      runs.push(await load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds, connections }));
      decCpu = addCpu(decCpu, cpuSince(t, cpu()));
    }
    const hello = combine(hellos);
    const decisions = combine(runs);
    const recorded = (await seeded.countRecords()) - before;

    const helloRps = hello.requests.average;
    const decRps = decisions.requests.average;
    const ratio = decRps / helloRps;
    printTable('HTTP: durable decisions vs bare express hello-world (same process)', [
      ['connections', connections],
      ['rounds × seconds', `${rounds} × ${seconds}`],
      ['hello req/s', helloRps],
      ['hello p99 ms', hello.latency.p99],
      ['decisions req/s', decRps],
      ['decisions p99 ms', decisions.latency.p99],
      ['decisions 2xx', decisions['2xx']],
      ['decisions non-2xx', decisions.non2xx],
      ['records committed', recorded],
      ['ratio', `${(ratio * 100).toFixed(1)} %`],
      ['hello CPU % server/pg/load', pct(helloCpu, rounds * seconds)],
      ['decisions CPU % server/pg/load', pct(decCpu, rounds * seconds)],
      ['server CPU µs per hello', (helloCpu.server / hellos.reduce((a, r) => a + r.requests.total, 0)) * 1e6],
      ['server CPU µs per decision', (decCpu.server / runs.reduce((a, r) => a + r.requests.total, 0)) * 1e6],
      ['postgres CPU µs per decision', (decCpu.postgres / runs.reduce((a, r) => a + r.requests.total, 0)) * 1e6],
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
      rounds,
      smoke,
    });
  } finally {
    await stop();
  }
}

function pct(c: CpuSeconds, seconds: number): string {
  return [c.server, c.postgres, c.load].map((v) => ((v / seconds) * 100).toFixed(0)).join(' / ');
}
