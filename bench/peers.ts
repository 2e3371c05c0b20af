/**
 * Custos beside Cerbos 0.55 on the same hospital workload, in one run:
 * alternating rounds of Custos (every decision committed to its
 * hash-chained log first), Cerbos with audit off, and Cerbos with its local
 * audit backend (access and decision logs), each round the same length with
 * the same connection count and the order turning from round to round, so
 * drift in the load of this shared machine hits all three alike. Every request is first checked against the oracle on
 * all three; any disagreement fails the run.
 *
 * Not like for like, by design of the two: Custos reads the facts itself
 * (held in memory, kept true by change notifications) from a principal id
 * and a dataset name, while
 * a Cerbos request carries every fact, precomputed here, so the cost of
 * gathering them for Cerbos is not measured. A Cerbos decision about a
 * service whose own answer allows is two calls (the sponsor's is the second).
 */
import { cpuSince, load as plainLoad, type CpuSeconds } from './harness.ts';
import { checkAgreement, describeDisagreements } from './hospital/agreement.ts';
import { cerbosBodies, startCerbos, type CerbosServer } from './hospital/cerbos.ts';
import { custosBody, startHospitalBench } from './hospital/custos.ts';
import { rotatingLoad, type DecisionCalls, type LoadResult } from './hospital/load.ts';
import { printTable, writeResult } from './util.ts';

type Engine = 'custos' | 'cerbos' | 'cerbos_audit';

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? (smoke ? 3 : 10));
  const rounds = smoke ? 1 : 3;
  const { world, setup, policy, connections, loadAverage } = await startHospitalBench(smoke);
  const cerbos: Partial<Record<Exclude<Engine, 'custos'>, CerbosServer>> = {};
  try {
    cerbos.cerbos = await startCerbos(world, { audit: 'off' });
    cerbos.cerbos_audit = await startCerbos(world, { audit: 'local' });
    const custos = { base: setup.base, headers: setup.seeded.headers };
    const agreement = await checkAgreement(world, { custos, cerbos: { cerbos: cerbos.cerbos.base, cerbos_audit: cerbos.cerbos_audit.base } });
    if (agreement.disagreements.length) {
      throw new Error(`${agreement.disagreements.length} disagreement(s) with the oracle (agreement ${agreement.agreement}):\n${describeDisagreements(agreement)}`);
    }

    const custosCalls: DecisionCalls[] = world.requests.map((r) => ({ first: custosBody(r), second: null }));
    const cerbosCalls: DecisionCalls[] = world.requests.map((r) => {
      const b = cerbosBodies(world, r);
      return { first: b.own, second: b.sponsor };
    });
    const json = { 'content-type': 'application/json' };
    // The sponsor is asked only when the service's own answer withholds nothing.
    const needSponsor = (answer: string) => !answer.includes('EFFECT_DENY');
    const load = (engine: Engine, s: number) =>
      engine === 'custos'
        ? rotatingLoad({ base: setup.base, path: '/v1/decisions', headers: custos.headers, calls: custosCalls, seconds: s, connections })
        : rotatingLoad({ base: cerbos[engine]!.base, path: '/api/check/resources', headers: json, calls: cerbosCalls, needSecond: needSponsor, seconds: s, connections });
    // CPU of the engine itself: Custos's server and its PostgreSQL; Cerbos's one process.
    const engineCpu = (engine: Engine, c: CpuSeconds) => (engine === 'custos' ? c.server + c.postgres : c.server);
    const reading = (engine: Engine): CpuSeconds => (engine === 'custos' ? setup.cpu() : { ...setup.cpu(), server: cerbos[engine]!.cpu(), postgres: 0 });

    const engines: Engine[] = ['custos', 'cerbos', 'cerbos_audit'];
    for (const e of engines) await load(e, smoke ? 1 : 3); // warm-up
    const runs: Record<Engine, LoadResult[]> = { custos: [], cerbos: [], cerbos_audit: [] };
    const cpu: Record<Engine, number> = { custos: 0, cerbos: 0, cerbos_audit: 0 };
    // The order turns each round, so no engine always follows Custos (whose PostgreSQL keeps writing for a while after a round).
    for (let i = 0; i < rounds; i++) {
      for (const e of [...engines.slice(i % 3), ...engines.slice(0, i % 3)]) {
        const before = reading(e);
        runs[e].push(await load(e, seconds));
        cpu[e] += engineCpu(e, cpuSince(before, reading(e)));
      }
    }
    // Each server's floor on this machine at this time: a bare express route in the Custos process, and a
    // CheckResources call that matches no policy. What the hospital costs is what either spends above it.
    const helloFloor = await plainLoad({ url: `${setup.base}/hello`, method: 'GET', seconds, connections });
    const noPolicy = JSON.stringify({ principal: { id: 'nobody', roles: ['member'] }, resources: [{ actions: ['read'], resource: { kind: 'no_policy', id: '1' } }] });
    const cerbosFloor = await rotatingLoad({ base: cerbos.cerbos.base, path: '/api/check/resources', headers: json, calls: [{ first: noPolicy, second: null }], seconds, connections });
    const summary = Object.fromEntries(engines.map((e) => [e, combine(runs[e], cpu[e])])) as Record<Engine, ReturnType<typeof combine>>;
    const failed = engines.filter((e) => runs[e].some((r) => r.non_2xx || r.errors));
    printTable(`Hospital workload: Custos and Cerbos 0.55 (${world.principals.length} principals, ${world.datasets.length} datasets, ${policy.rules} Custos rules)`, [
      ['requests (rotating)', world.requests.length],
      ['agreement with the oracle', `${agreement.agreement} (${Object.entries(agreement.agreed).map(([k, v]) => `${k} ${v}`).join(', ')} of ${agreement.requests})`],
      ['rounds × seconds, connections', `${rounds} × ${seconds}, ${connections}`],
      ...engines.flatMap((e): [string, string][] => [[`${e} decisions/s`, String(summary[e].per_s)], [`${e} p50 / p99 ms`, `${summary[e].p50_ms} / ${summary[e].p99_ms}`], [`${e} engine CPU µs per decision`, String(summary[e].cpu_us)]]),
      ['floors: custos GET /hello, cerbos no-policy check /s', `${Math.round(helloFloor.requests.average)}, ${cerbosFloor.decisions_per_s}`],
      ['custos / cerbos', `${((summary.custos.per_s / summary.cerbos.per_s) * 100).toFixed(1)} %`],
      ['custos / cerbos with local audit', `${((summary.custos.per_s / summary.cerbos_audit.per_s) * 100).toFixed(1)} %`],
    ]);
    if (failed.length) throw new Error(`non-2xx answers or errors under load: ${failed.join(', ')}`);
    writeResult('peers', {
      custos_per_s: summary.custos.per_s,
      cerbos_per_s: summary.cerbos.per_s,
      cerbos_audit_per_s: summary.cerbos_audit.per_s,
      custos_p50_ms: summary.custos.p50_ms,
      cerbos_p50_ms: summary.cerbos.p50_ms,
      cerbos_audit_p50_ms: summary.cerbos_audit.p50_ms,
      custos_p99_ms: summary.custos.p99_ms,
      cerbos_p99_ms: summary.cerbos.p99_ms,
      cerbos_audit_p99_ms: summary.cerbos_audit.p99_ms,
      custos_cpu_us_per_decision: summary.custos.cpu_us,
      cerbos_cpu_us_per_decision: summary.cerbos.cpu_us,
      cerbos_audit_cpu_us_per_decision: summary.cerbos_audit.cpu_us,
      custos_hello_floor_per_s: Math.round(helloFloor.requests.average),
      cerbos_no_policy_floor_per_s: cerbosFloor.decisions_per_s,
      rounds_per_s: Object.fromEntries(engines.map((e) => [e, runs[e].map((r) => r.decisions_per_s)])),
      agreement: agreement.agreement,
      mix: agreement.mix,
      requests: world.requests.length,
      sizes: world.sizes,
      rules: policy.rules,
      connections,
      seconds,
      rounds,
      cerbos_version: '0.55.0',
      // The machine is shared: how busy it was when the run began.
      load_average_at_start: loadAverage,
      smoke,
    });
  } finally {
    for (const c of Object.values(cerbos)) await c.stop();
    await setup.stop();
  }
}

/** Rounds as one: mean rate, median of the rounds' p50, worst p99, CPU per decision over all of them. */
function combine(rs: LoadResult[], cpuSeconds: number) {
  const decisions = rs.reduce((a, r) => a + r.decisions, 0);
  const p50s = rs.map((r) => r.p50_ms).sort((a, b) => a - b);
  return {
    per_s: Math.round(rs.reduce((a, r) => a + r.decisions_per_s, 0) / rs.length),
    p50_ms: p50s[Math.floor(p50s.length / 2)]!,
    p99_ms: Math.max(...rs.map((r) => r.p99_ms)),
    cpu_us: Math.round((cpuSeconds / decisions) * 1e6),
  };
}
