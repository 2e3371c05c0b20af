/**
 * In-process decision latency at a realistic hospital policy size: 10,000
 * rules (ten per dataset over 1,000 datasets, plus role-wide rules), 10,000
 * principals and 1,000 datasets; compared with plain casbin enforcement of
 * the same rules (policies/model.conf) on the same requests.
 */
import { decide, ruleEffect } from '../src/engine/decide.ts';
import type { DatasetFacts, DecisionInput, PrincipalFacts } from '../src/engine/types.ts';
import { buildCasbinReference, casbinEffect } from '../src/policy/casbin.ts';
import { compilePolicy } from '../src/policy/compile.ts';
import { percentile, printTable, rng, writeResult } from './util.ts';


const PURPOSES = ['model-training', 'model-evaluation', 'research', 'operations'];
const CATEGORIES = ['names', 'dates', 'mrn', 'ssn', 'geographic', 'email'];

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const nDatasets = smoke ? 100 : 1000;
  const nPrincipals = smoke ? 1000 : 10_000;
  const nProjects = smoke ? 10 : 40;
  const rulesPerDataset = 10;
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;

  const projects = Array.from({ length: nProjects }, (_, i) => `proj-${i}`);
  const roles = [
    { id: 'ai-researcher', inherits: [] as string[] },
    { id: 'data-scientist', inherits: [] },
    { id: 'system-administrator', inherits: [] },
    { id: 'security-reviewer', inherits: [] },
    { id: 'approver', inherits: [] },
    ...Array.from({ length: 40 }, (_, i) => ({ id: `team-${i}`, inherits: i % 4 === 0 ? ['data-scientist'] : [] })),
  ];
  const roleIds = roles.map((r) => r.id);
  const datasets: DatasetFacts[] = Array.from({ length: nDatasets }, (_, i) => ({
    id: `ds-${i}`,
    audience: `urn:custos:dataset:ds-${i}`,
    project: pick(projects),
    owner: 'owner',
    classification: pick(['deidentified', 'limited', 'phi'] as const),
    purposes: PURPOSES,
    columns: Array.from({ length: 30 }, (_, c) => ({ name: `c${c}`, category: c < 6 ? CATEGORIES[c] : undefined })),
  }));

  // Ten rules per dataset: allows for a few team roles with purposes and column lists, some conditions, some denies.
  const rules: Record<string, unknown>[] = [];
  for (const d of datasets) {
    for (let k = 0; k < rulesPerDataset; k++) {
      const deny = k === rulesPerDataset - 1;
      rules.push({
        id: `${d.id}-r${k}`,
        effect: deny ? 'deny' : 'allow',
        roles: [pick(roleIds), pick(roleIds)],
        actions: ['dataset:read'],
        resource: { datasets: [d.id] },
        ...(deny ? { when: 'principal.attributes.suspended == true' } : { purposes: [pick(PURPOSES), pick(PURPOSES)] }),
        ...(!deny && k % 3 === 0 ? { when: 'resource.project in principal.projects' } : {}),
        ...(!deny ? { columns: k % 2 ? { include: Array.from({ length: 12 }, (_, c) => `c${c + 6}`) } : { except_categories: ['names', 'ssn', 'mrn'] } } : {}),
      });
    }
  }
  const t0 = performance.now();
  const snapshot = compilePolicy({ documents: [{ name: 'bench.yaml', text: '', value: { rules } }], roles });
  const compileMs = performance.now() - t0;

  const principals: PrincipalFacts[] = Array.from({ length: nPrincipals }, (_, i) => {
    const bindings = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({ role: pick(roleIds), project: rand() < 0.3 ? null : pick(projects) }));
    return {
      id: `u${i}`,
      kind: 'user',
      status: 'active',
      projects: [...new Set(bindings.map((b) => b.project).filter((p): p is string => p !== null))],
      vendorId: null,
      baas: [],
      attributes: { suspended: false },
      roles: bindings,
      grants: [],
    };
  });
  const now = Date.UTC(2026, 5, 1);
  const inputs: DecisionInput[] = Array.from({ length: 2000 }, () => ({
    now,
    action: 'dataset:read',
    purpose: pick(PURPOSES),
    columns: ['c10', 'c11', 'c12'],
    principal: pick(principals),
    dataset: pick(datasets),
  }));

  // Warm up, then time each decision.
  for (let i = 0; i < 20_000; i++) decide(inputs[i % inputs.length]!, snapshot);
  const iterations = smoke ? 20_000 : 200_000;
  const times = new Float64Array(iterations);
  let allows = 0;
  for (let i = 0; i < iterations; i++) {
    const input = inputs[i % inputs.length]!;
    const s = process.hrtime.bigint();
    const d = decide(input, snapshot);
    times[i] = Number(process.hrtime.bigint() - s) / 1000;
    if (d.effect === 'allow') allows++;
  }
  times.sort();
  const p50 = percentile(times, 50);
  const p99 = percentile(times, 99);

  // Plain casbin on the same rules and requests (far slower: a small sample).
  const ref = await buildCasbinReference(snapshot, principals, now);
  // Plain casbin walks every policy line per request (seconds each at full size): a small sample.
  const casbinSample = smoke ? 10 : 3;
  const ctimes: number[] = [];
  let agree = 0;
  for (let i = 0; i < casbinSample; i++) {
    const input = inputs[i]!;
    const s = process.hrtime.bigint();
    const allowed = casbinEffect(ref, input);
    ctimes.push(Number(process.hrtime.bigint() - s) / 1000);
    // The rule-level effect must match plain casbin exactly.
    if ((allowed ? 'allow' : 'deny') === ruleEffect(input, snapshot)) agree++;
  }
  ctimes.sort((a, b) => a - b);
  const casbinP50 = percentile(ctimes, 50);
  const speedup = casbinP50 / p50;

  printTable(`decide() at ${snapshot.rules.length} rules, ${nPrincipals} principals, ${nDatasets} datasets`, [
    ['rules', snapshot.rules.length],
    ['compile ms', compileMs],
    ['decisions timed', iterations],
    ['allow share', `${((allows / iterations) * 100).toFixed(1)} %`],
    ['p50 µs', p50],
    ['p99 µs', p99],
    ['casbin enforce p50 µs', casbinP50],
    ['casbin enforce p99 µs', percentile(ctimes, 99)],
    ['speed-up vs casbin (p50)', `${speedup.toFixed(0)}×`],
  ]);
  writeResult('decide', {
    p50_us: round(p50),
    p99_us: round(p99),
    compile_ms: Math.round(compileMs),
    rules: snapshot.rules.length,
    principals: nPrincipals,
    datasets: nDatasets,
    casbin_p50_us: round(casbinP50),
    casbin_speedup: Math.round(speedup),
    smoke,
    casbin_agreement: `${agree}/${casbinSample}`,
  });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
