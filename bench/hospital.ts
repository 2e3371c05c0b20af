/**
 * Custos on a realistic hospital workload (bench/hospital/world.ts: 10,000
 * principals, 1,000 datasets, about 2,700 rules), over HTTP: decisions/s,
 * decision latency, server and PostgreSQL CPU per decision, and each cache's
 * hit rate as the server reports it on SIGTERM. Every request is first
 * checked against the oracle (and Cerbos); any disagreement fails the run.
 */
import { existsSync } from 'node:fs';
import { cpuSince } from './harness.ts';
import { checkAgreement, describeDisagreements } from './hospital/agreement.ts';
import { describeCaches, parseCacheStats } from './hospital/caches.ts';
import { CERBOS_BINARY, startCerbos } from './hospital/cerbos.ts';
import { custosBody, startHospitalBench } from './hospital/custos.ts';
import { rotatingLoad } from './hospital/load.ts';
import { printTable, writeResult } from './util.ts';

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const seconds = smoke ? 3 : 15;
  const { world, setup, policy, connections, loadAverage } = await startHospitalBench(smoke);
  let stopped = false;
  // Cerbos (an optional dependency, linux-x64 only) joins the agreement check when it is installed.
  const cerbos = existsSync(CERBOS_BINARY)
    ? await startCerbos(world).catch(async (err) => {
        await setup.stop();
        throw err;
      })
    : undefined;
  try {
    const custos = { base: setup.base, headers: setup.seeded.headers };
    const agreement = await checkAgreement(world, { custos, cerbos: cerbos ? { cerbos: cerbos.base } : {} });
    await cerbos?.stop();
    if (agreement.disagreements.length) {
      throw new Error(`${agreement.disagreements.length} disagreement(s) with the oracle (agreement ${agreement.agreement}):\n${describeDisagreements(agreement)}`);
    }

    const calls = world.requests.map((r) => ({ first: custosBody(r), second: null }));
    const load = (s: number) => rotatingLoad({ base: setup.base, path: '/v1/decisions', headers: custos.headers, calls, seconds: s, connections });
    await load(smoke ? 2 : 5); // warm-up: JIT, connection pools, credential cache
    const before = setup.cpu();
    const timed = await load(seconds);
    const used = cpuSince(before, setup.cpu());
    await setup.stop();
    stopped = true;
    const caches = parseCacheStats(setup.serverStderr());

    const perDecision = (s: number) => Math.round((s / timed.decisions) * 1e6);
    printTable(`Hospital workload: Custos over HTTP (${world.principals.length} principals, ${world.datasets.length} datasets, ${policy.rules} rules)`, [
      ['requests (rotating)', world.requests.length],
      ['agreement with the oracle', `${agreement.agreement} (${Object.entries(agreement.agreed).map(([k, v]) => `${k} ${v}`).join(', ')} of ${agreement.requests})`],
      ['oracle mix allow / column deny / deny', `${agreement.mix.allow} / ${agreement.mix.column_deny} / ${agreement.mix.deny}`],
      ['connections × seconds', `${connections} × ${timed.seconds}`],
      ['decisions/s', timed.decisions_per_s],
      ['p50 ms', timed.p50_ms],
      ['p99 ms', timed.p99_ms],
      ['non-2xx / errors', `${timed.non_2xx} / ${timed.errors}`],
      ['server CPU µs per decision', perDecision(used.server)],
      ['postgres CPU µs per decision', perDecision(used.postgres)],
      ['load generator CPU µs per decision', perDecision(used.load)],
      ...describeCaches(caches),
    ]);
    if (timed.non_2xx || timed.errors) throw new Error(`${timed.non_2xx} non-2xx answers and ${timed.errors} errors under load`);
    writeResult('hospital', {
      decisions_per_s: timed.decisions_per_s,
      p50_ms: timed.p50_ms,
      p99_ms: timed.p99_ms,
      decisions: timed.decisions,
      server_cpu_us_per_decision: perDecision(used.server),
      postgres_cpu_us_per_decision: perDecision(used.postgres),
      load_cpu_us_per_decision: perDecision(used.load),
      // Over the server's whole life: the agreement pass, the warm-up and the timed run.
      caches: caches.facts ? caches : { ...caches, facts: 'n/a' },
      agreement: agreement.agreement,
      mix: agreement.mix,
      requests: world.requests.length,
      sizes: world.sizes,
      rules: policy.rules,
      connections,
      seconds: timed.seconds,
      // The machine is shared: how busy it was when the run began.
      load_average_at_start: loadAverage,
      smoke,
    });
  } finally {
    await cerbos?.stop();
    if (!stopped) await setup.stop();
  }
}
