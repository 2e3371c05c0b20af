/**
 * The same hospital for Cerbos 0.55: its policy (world.ts, in words) as
 * Cerbos policies, the CheckResources requests a Cerbos user's enforcement
 * point would send, and a Cerbos server from the npm-published binary.
 *
 * How the hospital maps onto Cerbos, and why:
 * - Cerbos is stateless: the enforcement point sends the facts. Principal
 *   facts go in principal attributes (`bindings` "role@project" or "role@*"
 *   for organisation-wide, projects, clearance, training, status, the
 *   vendor's BAAs, the requested purpose, the sponsor); dataset facts in
 *   resource attributes (project, owner, classification, permitted purposes,
 *   clinical and evaluation columns, stewards, embargo, closed to vendors).
 * - Minimum necessary is per column, and a Cerbos condition cannot see the
 *   action, so each requested column is one `dataset` resource instance
 *   (id `<dataset>#<column>`, with the column and its Safe Harbor category)
 *   and the request is allowed when every column is. Rules that apply union
 *   their columns naturally: a column is allowed if any allow rule matches it.
 * - Roles count only in the dataset's project or organisation-wide, so each
 *   role of an allow rule is a derived role `<role>_here` whose condition
 *   checks the bindings (inheritance: attending-physician also derives
 *   clinician_here). Stewards are the derived role `dataset_steward`
 *   (principal id among the dataset's stewards); sanctions are principal
 *   policies (their explicit deny is final); per-dataset rules read the
 *   dataset's attributes; per-project rules stay rules.
 * - Cerbos resolves allow and deny per role: an allow through one role wins
 *   over a deny bound to another role the principal holds. The hospital's
 *   denies override every allow, so every deny is written for roles ["*"]
 *   with the role it binds as part of its condition (`denies: 'own-role'`
 *   writes them the naive way, for the test that shows the difference).
 * - A service is decided as its sponsor too: the enforcement point asks a
 *   second time, as the sponsor, when the service's own answer allows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../test/support/net.ts';
import { procCpu } from '../harness.ts';
import { DIRECT_IDENTIFIERS, HOSPITAL_ROLES, projectsOf, type HospitalRequest, type Principal, type World } from './world.ts';

/** The binary of the optional dependency @cerbos/cerbos-linux-x64 (0.55.0). */
export const CERBOS_BINARY = new URL('../../node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64', import.meta.url).pathname;

export interface CerbosPolicyOptions {
  /** 'any-role' (the faithful translation) or 'own-role' (denies bound to their roles, as Cerbos resolves them per role). */
  denies?: 'any-role' | 'own-role';
}

type Rule = Record<string, unknown>;

/** Roles whose holders get a role's rules: the role and those inheriting it. */
function holdersOf(role: string): string[] {
  const out = new Set([role]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of HOSPITAL_ROLES) {
      if (out.has(r.id) || !r.inherits.some((p) => out.has(p))) continue;
      out.add(r.id);
      grew = true;
    }
  }
  return [...out];
}

/** CEL: the principal holds one of `roles` (or a role inheriting one) here or organisation-wide. */
function holds(roles: string[]): string {
  const all = [...new Set(roles.flatMap(holdersOf))];
  return `${JSON.stringify(all)}.exists(r, (r + "@*") in P.attr.bindings || (r + "@" + R.attr.project) in P.attr.bindings)`;
}

const here = (role: string) => `${role.replace(/-/g, '_')}_here`;
const list = (xs: readonly string[]) => JSON.stringify(xs);
const IDENTIFIED = 'R.attr.classification in ["phi", "limited"]';
const OWN = 'R.attr.project in P.attr.projects';
const PLAIN = 'R.attr.category == "none"';
const purposeIn = (...ps: string[]) => (ps.length === 1 ? `P.attr.purpose == "${ps[0]}"` : `P.attr.purpose in ${list(ps)}`);
const cond = (...parts: string[]) => ({ match: { expr: parts.join(' && ') } });

/** Policy files by relative path: derived roles, the `dataset` resource policy, one principal policy per sanction. */
export function cerbosPolicies(w: World, o: CerbosPolicyOptions = {}): Record<string, string> {
  const allowRoles = ['ai-researcher', 'data-scientist', 'clinician', 'attending-physician', 'ml-pipeline', 'vendor-analyst', 'data-steward'];
  const derived = {
    apiVersion: 'api.cerbos.dev/v1',
    derivedRoles: {
      name: 'hospital_roles',
      definitions: [
        ...allowRoles.map((r) => ({ name: here(r), parentRoles: holdersOf(r), condition: cond(holds([r])) })),
        { name: 'dataset_steward', parentRoles: holdersOf('data-steward'), condition: cond('P.id in R.attr.stewards', holds(['data-steward'])) },
      ],
    },
  };
  const allow = (name: string, derivedRoles: string[], ...parts: string[]): Rule => ({
    name,
    actions: ['read'],
    effect: 'EFFECT_ALLOW',
    derivedRoles,
    ...(parts.length ? { condition: cond(...parts) } : {}),
  });
  // Prerequisites bind no role; the hospital's denies bind theirs through the condition (see the header).
  const deny = (name: string, roles: string[] | null, ...parts: string[]): Rule => ({
    name,
    actions: ['read'],
    effect: 'EFFECT_DENY',
    roles: roles && o.denies === 'own-role' ? [...new Set(roles.flatMap(holdersOf))] : ['*'],
    condition: cond(...(roles ? [holds(roles), ...parts] : parts)),
  });
  const rules: Rule[] = [
    deny('inactive', null, 'P.attr.status != "active"'),
    deny('purpose-not-permitted', null, '!(P.attr.purpose in R.attr.purposes)'),
    deny(
      'no-baa-in-force',
      null,
      'P.attr.vendor != ""',
      '!P.attr.baas.exists(b, timestamp(b.effective_on) <= now() && now() < timestamp(b.expires_on) && P.attr.purpose in b.purposes && R.attr.classification in b.classifications)',
    ),
    deny('sysadmin-never-reads-phi', ['system-administrator'], IDENTIFIED),
    deny('reviewer-reads-no-data', ['security-reviewer'], 'true'),
    deny('restricted-no-phi', ['phi-restricted'], IDENTIFIED),
    deny('untrained-no-identified-data', ['clinician', 'data-scientist', 'ai-researcher'], IDENTIFIED, 'P.attr.hipaa_training == false'),
    deny('embargo', ['data-scientist', 'ai-researcher', 'vendor-analyst', 'ml-pipeline'], 'R.attr.embargoed'),
    deny('no-vendors', ['vendor-analyst'], 'R.attr.no_vendors'),
    allow('researcher-deidentified', [here('ai-researcher')], 'R.attr.classification == "deidentified"', purposeIn('research', 'model-training', 'model-evaluation')),
    allow('scientist-deidentified', [here('data-scientist')], 'R.attr.classification == "deidentified"', purposeIn('model-training', 'model-evaluation', 'research')),
    allow('scientist-own-project-phi', [here('data-scientist')], IDENTIFIED, purposeIn('model-training'), OWN, `!(R.attr.category in ${list(DIRECT_IDENTIFIERS)})`),
    allow('clinician-own-project', [here('clinician')], purposeIn('operations', 'research'), OWN, 'P.attr.clearance >= 2', PLAIN),
    allow('attending-identifiers', [here('attending-physician')], 'R.attr.classification == "phi"', purposeIn('operations'), OWN, '!(R.attr.category in ["ssn", "biometric", "full-face-photo"])'),
    allow('pipeline-training', [here('ml-pipeline')], purposeIn('model-training'), OWN, PLAIN),
    allow('vendor-evaluation', [here('vendor-analyst')], 'R.attr.classification in ["deidentified", "limited"]', purposeIn('model-evaluation'), OWN, PLAIN),
    allow('owner-reads-own', [here('data-scientist'), here('clinician'), here('data-steward')], 'R.attr.owner == P.id'),
    allow('dataset-clinical', [here('clinician')], purposeIn('operations'), OWN, 'R.attr.column in R.attr.clinical_columns'),
    allow('dataset-evaluation', [here('ai-researcher')], purposeIn('model-evaluation'), 'R.attr.column in R.attr.eval_columns'),
    allow('dataset-steward', ['dataset_steward'], purposeIn('operations', 'research')),
  ];
  for (const p of w.projects) {
    const inP = `R.attr.project == "${p.id}"`;
    rules.push(
      allow(`${p.id}-researcher-limited`, [here('ai-researcher')], inP, 'R.attr.classification == "limited"', purposeIn('research'), `P.attr.clearance >= ${p.researcherMinClearance}`, PLAIN),
      allow(`${p.id}-steward-operations`, [here('data-steward')], inP, purposeIn('operations'), PLAIN),
    );
    if (p.vendorDates) rules.push(allow(`${p.id}-vendor-dates`, [here('vendor-analyst')], inP, 'R.attr.classification == "limited"', purposeIn('model-evaluation'), `!(R.attr.category in ${list(DIRECT_IDENTIFIERS)})`));
  }
  const files: Record<string, string> = {
    'derived_roles.yaml': stringify(derived, { lineWidth: 0 }),
    'dataset.yaml': stringify({ apiVersion: 'api.cerbos.dev/v1', resourcePolicy: { resource: 'dataset', version: 'default', importDerivedRoles: ['hospital_roles'], rules } }, { lineWidth: 0 }),
  };
  w.sanctioned.forEach((id, i) => {
    files[`principals/sanction-${i + 1}.yaml`] = stringify({
      apiVersion: 'api.cerbos.dev/v1',
      principalPolicy: {
        principal: id,
        version: 'default',
        rules: [{ resource: 'dataset', actions: [{ name: `sanction-${i + 1}`, action: 'read', effect: 'EFFECT_DENY', condition: cond(holds(['clinician', 'data-scientist', 'ai-researcher'])) }] }],
      },
    });
  });
  return files;
}

/** The principal as the enforcement point describes it to Cerbos. */
function principalOf(w: World, p: Principal, purpose: string) {
  const vendor = p.vendor ? w.vendor.get(p.vendor)! : null;
  return {
    id: p.id,
    // Cerbos wants at least one role; `member` stands for "signed in" and carries no rule.
    roles: [...new Set(['member', ...p.roles.map((b) => b.role)])],
    attr: {
      kind: p.kind,
      status: p.status,
      projects: projectsOf(p),
      bindings: p.roles.map((b) => `${b.role}@${b.project ?? '*'}`),
      clearance: p.clearance,
      hipaa_training: p.hipaaTraining,
      vendor: p.vendor ?? '',
      baas: (vendor?.baas ?? []).map((b) => ({ effective_on: `${b.effectiveOn}T00:00:00Z`, expires_on: `${b.expiresOn}T00:00:00Z`, purposes: b.purposes, classifications: b.classifications })),
      sponsor: p.sponsor ?? '',
      purpose,
    },
  };
}

/** The CheckResources bodies of one request: the principal's, and for a service its sponsor's (asked only if the first allows). */
export function cerbosBodies(w: World, req: HospitalRequest): { own: string; sponsor: string | null } {
  const p = w.principal.get(req.principal)!;
  const d = w.dataset.get(req.dataset)!;
  const dsAttr = {
    dataset: d.id,
    project: d.project,
    owner: d.owner,
    classification: d.classification,
    purposes: d.purposes,
    clinical_columns: d.clinicalColumns,
    eval_columns: d.evalColumns,
    stewards: d.stewards,
    embargoed: d.embargoed,
    no_vendors: d.noVendors,
  };
  const resources = [...new Set(req.columns)].map((c) => ({
    actions: ['read'],
    resource: { kind: 'dataset', id: `${d.id}#${c}`, attr: { ...dsAttr, column: c, category: d.columns.find((x) => x.name === c)?.category ?? 'none' } },
  }));
  const body = (who: Principal) => JSON.stringify({ principal: principalOf(w, who, req.purpose), resources });
  return { own: body(p), sponsor: p.kind === 'service' ? body(w.principal.get(p.sponsor!)!) : null };
}

/** The columns a CheckResources answer denies (resource ids `<dataset>#<column>`). */
export function deniedColumns(answer: { results: { resource: { id: string }; actions: Record<string, string> }[] }): string[] {
  return answer.results.filter((r) => r.actions.read !== 'EFFECT_ALLOW').map((r) => r.resource.id.slice(r.resource.id.indexOf('#') + 1));
}

/** A running Cerbos server. */
export interface CerbosServer {
  base: string;
  pid: number;
  /** CPU seconds (user + system) used so far, from /proc. */
  cpu(): number;
  stop(): Promise<void>;
}

/**
 * Starts Cerbos on a free loopback port with the policies on a disk store in
 * a temporary folder; `audit: 'local'` enables the local audit backend
 * (access and decision logs, an embedded store in the same folder).
 */
export async function startCerbos(w: World, o: CerbosPolicyOptions & { audit?: 'off' | 'local' } = {}): Promise<CerbosServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-cerbos-'));
  const policies = path.join(dir, 'policies');
  for (const [name, text] of Object.entries(cerbosPolicies(w, o))) {
    await mkdir(path.dirname(path.join(policies, name)), { recursive: true });
    await writeFile(path.join(policies, name), text);
  }
  const [http, grpc] = [await freePort(), await freePort()];
  const config = {
    server: { httpListenAddr: `127.0.0.1:${http}`, grpcListenAddr: `127.0.0.1:${grpc}` },
    storage: { driver: 'disk', disk: { directory: policies, watchForChanges: false } },
    audit:
      o.audit === 'local'
        ? { enabled: true, accessLogsEnabled: true, decisionLogsEnabled: true, backend: 'local', local: { storagePath: path.join(dir, 'audit') } }
        : { enabled: false },
    telemetry: { disabled: true },
  };
  await writeFile(path.join(dir, 'cerbos.yaml'), stringify(config));
  // warn, like the Custos bench server: info logs a line per request.
  const child: ChildProcess = spawn(CERBOS_BINARY, ['server', `--config=${path.join(dir, 'cerbos.yaml')}`, '--log-level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${http}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(base, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, pid: child.pid!, cpu: () => procCpu(child.pid!), stop };
}

async function waitHealthy(base: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`cerbos exited ${child.exitCode}: ${stderr()}`);
    try {
      const r = await fetch(`${base}/_cerbos/health`);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cerbos did not become healthy: ${stderr()}`);
}
