/**
 * Puts the hospital into a migrated Custos database, and phrases its
 * requests for POST /v1/decisions.
 *
 * The catalog goes in as bulk SQL through the migrated schema, in foreign-key
 * order: projects, vendors, baas, principals, role_assignments, datasets.
 * This is a benchmark fixture, not a product path: through the admin API,
 * 10,000 principals, their role assignments and 1,000 datasets would each
 * need an administrator's session with a fresh second factor, some a second
 * administrator, and an audit event apiece — minutes of set-up that measure
 * nothing the benchmark is about. The rows still meet every constraint of
 * the schema (checks, foreign keys, unique names), and no derived value is
 * stored: classification is derived from the columns when a decision reads
 * them, as always.
 *
 * The hospital's roles go in through the catalog store (as the shipped ones
 * do), and the policy as a proper stored version through the policy store,
 * after compiling against the role graph as a push would. It carries no test
 * files: the shipped ones pin the shipped rules, which the hospital replaces.
 */
import { randomUUID } from 'node:crypto';
import { createCatalogStore } from '../../src/catalog/postgres/index.ts';
import { systemClock, uuidv7Generator } from '../../src/clock.ts';
import { createSql, type Tx } from '../../src/db/client.ts';
import { NotFoundError } from '../../src/errors.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { roleGraph } from '../../src/policy/loadPolicy.ts';
import { createPolicyStore } from '../../src/policy/postgres/index.ts';
import { hospitalPolicyYaml } from './policy.ts';
import os from 'node:os';
import { startBench, type BenchSetup } from '../harness.ts';
import { buildWorld, HOSPITAL_ROLES, SIZES, type HospitalRequest, type World } from './world.ts';

/** The body of a decision request. */
export function custosBody(req: HospitalRequest): string {
  return JSON.stringify({ principal_id: req.principal, dataset: req.dataset, purpose: req.purpose, columns: req.columns });
}

/** Inserts rows in chunks (PostgreSQL takes at most 65,535 parameters a statement). */
async function insert(sql: Tx, table: string, rows: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) await sql`INSERT INTO ${sql(table)} ${sql(rows.slice(i, i + 1000))}`;
}

/**
 * Loads the catalog and stores the hospital policy as the next version, on a
 * database already migrated with the shipped roles and policy (version 1).
 */
export async function loadHospital(databaseUrl: string, w: World): Promise<{ policyVersion: number; rules: number }> {
  const sql = createSql({ url: databaseUrl, max: 2 });
  try {
    const catalog = createCatalogStore(sql, { clock: systemClock, ids: uuidv7Generator(systemClock) });
    for (const r of HOSPITAL_ROLES) {
      try {
        await catalog.getRole(r.id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        await catalog.createRole(r);
      }
    }
    await sql.begin(async (t) => {
      await insert(t, 'projects', w.projects.map((p) => ({ id: p.id, name: p.name })));
      await insert(t, 'vendors', w.vendors.map((v) => ({ id: v.id, name: v.name })));
      await insert(
        t,
        'baas',
        w.vendors.flatMap((v) =>
          v.baas.map((b, i) => ({ id: b.id, vendor_id: v.id, reference: `${v.id}-baa-${i + 1}`, effective_on: b.effectiveOn, expires_on: b.expiresOn, purposes: b.purposes, classifications: b.classifications })),
        ),
      );
      // People first: a service's sponsor must exist.
      const rows = [...w.principals].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'user' ? -1 : 1));
      await insert(
        t,
        'principals',
        rows.map((p) => ({
          id: p.id,
          kind: p.kind,
          name: p.name,
          status: p.status,
          sponsor_id: p.sponsor,
          project_id: p.project,
          vendor_id: p.vendor,
          attributes: { clearance: p.clearance, hipaa_training: p.hipaaTraining },
        })),
      );
      await insert(t, 'role_assignments', w.principals.flatMap((p) => p.roles.map((b) => ({ id: randomUUID(), principal_id: p.id, role_id: b.role, project_id: b.project }))));
      await insert(
        t,
        'datasets',
        w.datasets.map((d) => ({
          id: d.id,
          project_id: d.project,
          owner_id: d.owner,
          purposes: d.purposes,
          columns: d.columns,
          expert_determination: d.expertDetermination
            ? { expert: 'Biostatistics core', method: 'statistical disclosure review', determined_on: d.expertDetermination.determinedOn, expires_on: d.expertDetermination.expiresOn }
            : null,
          data_use_agreement: d.dataUseAgreement ? { reference: `${d.id}-dua`, signed_on: d.dataUseAgreement.signedOn, expires_on: d.dataUseAgreement.expiresOn } : null,
        })),
      );
    });

    const text = hospitalPolicyYaml(w);
    const snapshot = compilePolicy({ documents: [{ name: 'hospital.yaml', text }], roles: await roleGraph(catalog) });
    const store = createPolicyStore(sql);
    const base = await store.latest();
    if (!base) throw new Error('no policy version to build on: prepare the database first (it stores version 1)');
    const v = await store.create({ basedOn: base.version, documents: { 'hospital.yaml': text }, tests: {}, authorId: null, comment: `synthetic hospital, seed ${w.seed}`, at: new Date() });
    return { policyVersion: v.version, rules: snapshot.rules.length };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A running hospital bench: the world, Custos serving it, and the run's settings. */
export interface HospitalBench {
  world: World;
  setup: BenchSetup;
  /** The stored policy's version and rule count. */
  policy: { policyVersion: number; rules: number };
  connections: number;
  /** The machine's load average when the run started (it is shared). */
  loadAverage: number[];
}

/** Builds the world at the bench's size, and starts PostgreSQL and the Custos bench server with the hospital loaded. */
export async function startHospitalBench(smoke: boolean): Promise<HospitalBench> {
  const world = buildWorld(smoke ? SIZES.small : SIZES.full);
  const loadAverage = os.loadavg().map((x) => Math.round(x * 100) / 100);
  let policy = { policyVersion: 0, rules: 0 };
  const setup = await startBench({ extraSeed: async ({ databaseUrl }) => void (policy = await loadHospital(databaseUrl, world)) });
  return { world, setup, policy, connections: Number(process.env.BENCH_CONNECTIONS ?? 32), loadAverage };
}
