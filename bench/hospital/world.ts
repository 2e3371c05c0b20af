/**
 * A synthetic hospital, generated from a seed: projects, vendors and their
 * BAAs, people, vendor staff, training-job services with sponsors, datasets
 * with Safe Harbor column categories, and the facts its policy is written
 * over (per-project settings, dataset stewards, embargoes, clinical columns,
 * sanctioned people). Deterministic for a seed, sizes and day, so every run
 * measures the same hospital and asks the same questions. Dates are offsets
 * from `today` with at least 30 days of margin, so a run that crosses
 * midnight decides the same way.
 *
 * The hospital's policy, in words (oracle.ts, policy.ts and cerbos.ts each
 * write it down independently, for the referee, Custos and Cerbos):
 *
 * Prerequisites: the principal is active; the purpose is one the dataset
 * permits; vendor staff need a BAA of their vendor in force today that covers
 * both the purpose and the dataset's classification; a service is also
 * decided as its sponsor (it never gets more than its sponsor could).
 * Roles count in the dataset's project or organisation-wide;
 * attending-physician inherits clinician.
 *
 * Allows (columns granted; a request may use only granted columns, the union
 * over the allows that apply):
 * - researcher-deidentified: ai-researcher, de-identified data, research /
 *   model-training / model-evaluation, every column.
 * - scientist-deidentified: data-scientist, de-identified data,
 *   model-training / model-evaluation / research, every column.
 * - scientist-own-project-phi: data-scientist, phi and limited data of a
 *   project they belong to, model-training, all but the direct identifiers.
 * - clinician-own-project: clinician, any data of their project, operations /
 *   research, clearance >= 2, non-identifier columns.
 * - attending-identifiers: attending-physician, phi of their project,
 *   operations, all but ssn, biometric and full-face-photo columns.
 * - pipeline-training: ml-pipeline, any data of its project, model-training,
 *   non-identifier columns.
 * - vendor-evaluation: vendor-analyst, de-identified and limited data of their
 *   project, model-evaluation, non-identifier columns.
 * - owner-reads-own: data-scientist, clinician or data-steward who owns the
 *   dataset, any purpose the dataset permits, every column.
 * - per project P: ai-researcher on P's limited data for research with
 *   clearance >= P.researcherMinClearance (non-identifiers); data-steward on
 *   P's data for operations (non-identifiers); where P.vendorDates,
 *   vendor-analyst on P's limited data for model-evaluation, all but the
 *   direct identifiers.
 * - per dataset D: clinician of D's project, operations, D.clinicalColumns;
 *   ai-researcher, model-evaluation, D.evalColumns.
 * - per steward S: data-steward S on S's datasets, operations / research,
 *   every column.
 *
 * Denies (a deny overrides every allow, through any role):
 * - system-administrator: phi and limited data. security-reviewer: all data.
 *   phi-restricted: phi and limited data.
 * - clinician, data-scientist, ai-researcher without current HIPAA training:
 *   phi and limited data.
 * - embargoed dataset: data-scientist, ai-researcher, vendor-analyst,
 *   ml-pipeline. Dataset closed to vendors: vendor-analyst.
 * - sanctioned person: as clinician, data-scientist or ai-researcher, all data.
 */
import { rng } from '../util.ts';

export type Purpose = 'model-training' | 'model-evaluation' | 'research' | 'operations';
export type Classification = 'deidentified' | 'limited' | 'phi';
export const PURPOSES: readonly Purpose[] = ['model-training', 'model-evaluation', 'research', 'operations'];

/** How big a hospital: `full` for the benchmarks, `small` for tests and --smoke. */
export interface Sizes {
  projects: number;
  principals: number;
  vendors: number;
  datasets: number;
  requests: number;
}
export const SIZES: Record<'full' | 'small', Sizes> = {
  full: { projects: 50, principals: 10_000, vendors: 500, datasets: 1_000, requests: 4_000 },
  small: { projects: 4, principals: 300, vendors: 30, datasets: 60, requests: 400 },
};

/** The hospital's roles beyond the shipped ones (policies/roles.yaml), with their inheritance. */
export const HOSPITAL_ROLES = [
  { id: 'clinician', description: 'Clinical staff: operational access to their project’s data.', inherits: [] as string[] },
  { id: 'attending-physician', description: 'Attending physicians: clinicians who may see most identifiers for operations.', inherits: ['clinician'] },
  { id: 'data-steward', description: 'Curates datasets: quality operations on their project, full access to the datasets they steward.', inherits: [] },
  { id: 'vendor-analyst', description: 'A business associate’s analyst: model evaluation under a BAA.', inherits: [] },
  { id: 'ml-pipeline', description: 'A training job: model training on its project’s data without identifiers.', inherits: [] },
  { id: 'phi-restricted', description: 'Placed on people who may not read PHI or limited data sets, whatever else they hold.', inherits: [] },
];

export interface Project {
  id: string;
  name: string;
  /** ai-researcher needs at least this clearance to read the project's limited data. */
  researcherMinClearance: number;
  /** Whether vendor analysts may see dates and geography of the project's limited data. */
  vendorDates: boolean;
}

export interface Baa {
  id: string;
  /** UTC dates; in force on [effectiveOn, expiresOn). */
  effectiveOn: string;
  expiresOn: string;
  purposes: Purpose[];
  classifications: Classification[];
}

export interface Vendor {
  id: string;
  name: string;
  baas: Baa[];
}

export interface Binding {
  role: string;
  /** null: organisation-wide. */
  project: string | null;
}

export interface Principal {
  id: string;
  name: string;
  kind: 'user' | 'service';
  status: 'active' | 'disabled';
  /** A service's project. */
  project: string | null;
  vendor: string | null;
  /** A service's sponsor (a person). */
  sponsor: string | null;
  clearance: number;
  hipaaTraining: boolean;
  roles: Binding[];
}

export interface Column {
  name: string;
  type: string;
  category?: string;
}

export interface Dataset {
  id: string;
  project: string;
  owner: string;
  purposes: Purpose[];
  columns: Column[];
  expertDetermination: { determinedOn: string; expiresOn: string } | null;
  dataUseAgreement: { signedOn: string; expiresOn: string } | null;
  /** Derived from the columns, the expert determination and the DUA as of `today` (see classify). */
  classification: Classification;
  clinicalColumns: string[];
  evalColumns: string[];
  embargoed: boolean;
  noVendors: boolean;
  /** People holding stewardship of this dataset (each has a per-principal rule). */
  stewards: string[];
}

/** One decision request of the workload. */
export interface HospitalRequest {
  principal: string;
  dataset: string;
  purpose: Purpose;
  columns: string[];
}

export interface World {
  seed: number;
  sizes: Sizes;
  today: string;
  projects: Project[];
  vendors: Vendor[];
  principals: Principal[];
  datasets: Dataset[];
  /** Stewards and the datasets each stewards (one per-principal rule each). */
  stewardships: Map<string, string[]>;
  /** People under a sanction (one per-principal deny each). */
  sanctioned: string[];
  requests: HospitalRequest[];
  principal: Map<string, Principal>;
  dataset: Map<string, Dataset>;
  vendor: Map<string, Vendor>;
}

/** The 16 direct identifiers: everything a limited data set may not keep (all but dates and geographic). */
export const DIRECT_IDENTIFIERS = [
  'names', 'phone', 'fax', 'email', 'ssn', 'mrn', 'health-plan-beneficiary', 'account-number', 'certificate-license',
  'vehicle-id', 'device-id', 'url', 'ip-address', 'biometric', 'full-face-photo', 'other-unique-id',
];
const LIMITED_CATEGORIES = ['dates', 'geographic'];

/** Column vocabulary: name → Safe Harbor category (none for clinical content). */
const PLAIN = ['note_text', 'icd10', 'cpt_code', 'lab_value', 'lab_code', 'medication', 'diagnosis_group', 'outcome', 'los_days', 'age_band', 'sex', 'vital_hr', 'vital_bp', 'image_embedding', 'risk_score'];
const DATED: Record<string, string> = { admit_date: 'dates', discharge_date: 'dates', birth_date: 'dates', procedure_date: 'dates', zip5: 'geographic', city: 'geographic', street_address: 'geographic' };
const DIRECT: Record<string, string> = {
  patient_name: 'names', provider_name: 'names', mrn: 'mrn', ssn: 'ssn', phone: 'phone', fax: 'fax', email: 'email', member_id: 'health-plan-beneficiary',
  account_no: 'account-number', license_no: 'certificate-license', vehicle_plate: 'vehicle-id', device_serial: 'device-id', portal_url: 'url',
  ip_addr: 'ip-address', voice_print: 'biometric', face_photo: 'full-face-photo', study_subject_code: 'other-unique-id',
};
const DEPARTMENTS = ['cardiology', 'oncology', 'radiology', 'neurology', 'pediatrics', 'icu', 'nephrology', 'dermatology', 'psychiatry', 'orthopedics'];

/** The classification of a dataset on `today`: Safe Harbor, a current expert determination, or a limited data set under a current DUA; else phi. */
export function classify(d: Pick<Dataset, 'columns' | 'expertDetermination' | 'dataUseAgreement'>, today: string): Classification {
  const cats = d.columns.flatMap((c) => (c.category ? [c.category] : []));
  if (!cats.length) return 'deidentified';
  const ed = d.expertDetermination;
  if (ed && ed.determinedOn <= today && today < ed.expiresOn) return 'deidentified';
  const dua = d.dataUseAgreement;
  if (cats.every((c) => LIMITED_CATEGORIES.includes(c)) && dua && dua.signedOn <= today && today < dua.expiresOn) return 'limited';
  return 'phi';
}

/** A principal's projects: a service's own project and the projects of its roles. */
export function projectsOf(p: Principal): string[] {
  const out = new Set<string>();
  if (p.project) out.add(p.project);
  for (const b of p.roles) if (b.project) out.add(b.project);
  return [...out];
}

/** `YYYY-MM-DD` plus `days`. */
export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Builds the hospital. `today` defaults to the current UTC date. */
export function buildWorld(sizes: Sizes, o: { seed?: number; today?: string } = {}): World {
  const seed = o.seed ?? 15;
  const today = o.today ?? new Date().toISOString().slice(0, 10);
  const rand = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;
  const sample = <T>(xs: readonly T[], n: number): T[] => {
    const copy = xs.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, Math.min(n, copy.length));
  };
  const someOf = <T>(xs: readonly T[], p: number): T[] => {
    const out = xs.filter(() => chance(p));
    return out.length ? out : [pick(xs)];
  };
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  // A valid version-4 UUID drawn from the seeded generator (the API checks the format).
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;

  const projects: Project[] = Array.from({ length: sizes.projects }, (_, i) => ({
    id: `prj-${String(i + 1).padStart(2, '0')}`,
    name: `${DEPARTMENTS[i % DEPARTMENTS.length]} ${Math.floor(i / DEPARTMENTS.length) + 1}`,
    researcherMinClearance: int(1, 3),
    vendorDates: chance(0.5),
  }));
  const projectIds = projects.map((p) => p.id);

  const allClasses: Classification[] = ['deidentified', 'limited', 'phi'];
  const baa = (from: number, until: number): Baa => ({
    id: uuid(),
    effectiveOn: addDays(today, from),
    expiresOn: addDays(today, until),
    // Vendors are engaged for model evaluation; some agreements cover more.
    purposes: ['model-evaluation', ...PURPOSES.filter((x) => x !== 'model-evaluation' && chance(0.3))],
    classifications: ['deidentified', ...allClasses.slice(1).filter(() => chance(0.5))],
  });
  const vendors: Vendor[] = Array.from({ length: sizes.vendors }, (_, i) => {
    const r = rand();
    const baas: Baa[] = [];
    if (r < 0.55) {
      baas.push(baa(-int(30, 700), int(30, 700)));
      if (chance(0.25)) baas.push(baa(-int(30, 300), int(30, 300))); // a second agreement in force, with other terms
    } else if (r < 0.75) baas.push(baa(-int(800, 1500), -int(30, 400))); // expired
    else if (r < 0.85) baas.push(baa(int(30, 200), int(400, 900))); // signed, not yet in force
    return { id: `vnd-${String(i + 1).padStart(3, '0')}`, name: `Vendor ${i + 1}`, baas };
  });

  const nServices = Math.round(sizes.principals * 0.08);
  const nStaff = Math.min(sizes.vendors, sizes.principals - nServices);
  const nPeople = sizes.principals - nServices - nStaff;
  const principals: Principal[] = [];
  const person = (name: string, extra: Partial<Principal> = {}): Principal => ({
    id: uuid(),
    name,
    kind: 'user',
    status: chance(0.03) ? 'disabled' : 'active',
    project: null,
    vendor: null,
    sponsor: null,
    clearance: int(1, 3),
    hipaaTraining: chance(0.88),
    roles: [],
    ...extra,
  });
  const sanctioned: string[] = [];
  for (let i = 0; i < nPeople; i++) {
    const p = person(`u-${String(i + 1).padStart(5, '0')}`);
    const homes = chance(0.3) ? sample(projectIds, 2) : [pick(projectIds)];
    const inProjects = (role: string) => homes.forEach((project) => p.roles.push({ role, project }));
    const r = rand();
    if (r < 0.28) inProjects('clinician');
    else if (r < 0.38) inProjects('attending-physician');
    else if (r < 0.6) inProjects('data-scientist');
    else if (r < 0.78) {
      if (chance(0.25)) p.roles.push({ role: 'ai-researcher', project: null });
      else inProjects('ai-researcher');
    } else if (r < 0.86) inProjects('data-steward');
    else if (r < 0.89) {
      p.roles.push({ role: 'system-administrator', project: null });
      if (chance(0.3)) p.roles.push({ role: 'data-scientist', project: homes[0]! }); // the deny must override this allow
    } else if (r < 0.91) {
      p.roles.push({ role: 'security-reviewer', project: null });
      if (chance(0.3)) p.roles.push({ role: 'ai-researcher', project: homes[0]! });
    }
    if (chance(0.2)) {
      const role = pick(['clinician', 'data-scientist', 'ai-researcher', 'data-steward']);
      const project = chance(0.7) ? homes[0]! : pick(projectIds);
      if (!p.roles.some((b) => b.role === role && b.project === project)) p.roles.push({ role, project });
    }
    if (chance(0.04)) p.roles.push({ role: 'phi-restricted', project: null });
    if (chance(0.01)) sanctioned.push(p.id);
    principals.push(p);
  }
  const people = principals.slice();
  for (let i = 0; i < nStaff; i++) {
    const project = pick(projectIds);
    const p = person(`v-${String(i + 1).padStart(5, '0')}`, { vendor: vendors[i]!.id });
    p.roles.push({ role: 'vendor-analyst', project });
    if (chance(0.3)) p.roles.push({ role: 'data-scientist', project });
    principals.push(p);
  }
  const membersOf = new Map<string, Principal[]>();
  for (const p of people) for (const pr of projectsOf(p)) (membersOf.get(pr) ?? membersOf.set(pr, []).get(pr)!).push(p);
  for (let i = 0; i < nServices; i++) {
    const project = pick(projectIds);
    const near = membersOf.get(project) ?? [];
    const scientists = near.filter((p) => p.roles.some((b) => b.role === 'data-scientist' && b.project === project));
    // Training jobs are mostly sponsored by a data scientist of their project; some by anyone.
    const r = rand();
    const sponsor = scientists.length && r < 0.6 ? pick(scientists) : near.length && r < 0.85 ? pick(near) : pick(people);
    const s = person(`svc-${String(i + 1).padStart(5, '0')}`, { kind: 'service', project, sponsor: sponsor.id });
    if (chance(0.85)) s.roles.push({ role: 'ml-pipeline', project });
    if (chance(0.2)) s.roles.push({ role: 'data-scientist', project });
    if (chance(0.05)) s.roles.push({ role: 'ai-researcher', project: null });
    principals.push(s);
  }

  const datasets: Dataset[] = Array.from({ length: sizes.datasets }, (_, i) => {
    const project = pick(projectIds);
    const near = membersOf.get(project);
    const owner = near?.length && chance(0.6) ? pick(near).id : pick(people).id;
    const plain = sample(PLAIN, int(3, 7)).map((name) => ({ name, type: 'string' }));
    const dated = () => sample(Object.keys(DATED), int(1, 3)).map((name) => ({ name, type: 'string', category: DATED[name]! }));
    const direct = () => sample(Object.keys(DIRECT), int(1, 3)).map((name) => ({ name, type: 'string', category: DIRECT[name]! }));
    let columns: Column[] = plain;
    let expertDetermination: Dataset['expertDetermination'] = null;
    let dataUseAgreement: Dataset['dataUseAgreement'] = null;
    const r = rand();
    if (r < 0.1) {
      columns = [...plain, ...direct()];
      expertDetermination = chance(0.8)
        ? { determinedOn: addDays(today, -int(30, 500)), expiresOn: addDays(today, int(30, 700)) }
        : { determinedOn: addDays(today, -int(800, 1200)), expiresOn: addDays(today, -int(30, 300)) };
    } else if (r < 0.32) {
      columns = [...plain, ...dated()];
      const p = rand();
      if (p < 0.8) dataUseAgreement = { signedOn: addDays(today, -int(30, 500)), expiresOn: addDays(today, int(30, 700)) };
      else if (p < 0.9) dataUseAgreement = { signedOn: addDays(today, -int(800, 1200)), expiresOn: addDays(today, -int(30, 300)) };
    } else if (r >= 0.6) {
      columns = [...plain, ...(chance(0.5) ? dated() : []), ...direct()];
    }
    columns = sample(columns, columns.length);
    const d: Dataset = {
      id: `ds-${String(i + 1).padStart(4, '0')}`,
      project,
      owner,
      purposes: someOf(PURPOSES, 0.6),
      columns,
      expertDetermination,
      dataUseAgreement,
      classification: 'phi',
      clinicalColumns: [],
      evalColumns: [],
      embargoed: chance(0.08),
      noVendors: chance(0.2),
      stewards: [],
    };
    d.classification = classify(d, today);
    const identifiers = columns.filter((c) => c.category).map((c) => c.name);
    if (d.classification === 'phi' && identifiers.length && chance(0.8)) d.clinicalColumns = sample(identifiers, int(1, 2));
    if (chance(0.7)) d.evalColumns = sample(plain.map((c) => c.name), int(1, 2));
    return d;
  });
  const byProject = new Map<string, Dataset[]>();
  for (const d of datasets) (byProject.get(d.project) ?? byProject.set(d.project, []).get(d.project)!).push(d);

  // Stewards look after one to three datasets, mostly in a project where they hold the role.
  const stewardships = new Map<string, string[]>();
  for (const p of people) {
    const homes = p.roles.filter((b) => b.role === 'data-steward' && b.project).map((b) => b.project!);
    if (!homes.length) continue;
    const mine = new Set<string>();
    for (let k = int(1, 3); k > 0; k--) {
      const pool = chance(0.8) ? byProject.get(pick(homes)) : undefined;
      mine.add((pool?.length ? pick(pool) : pick(datasets)).id);
    }
    stewardships.set(p.id, [...mine]);
  }
  const dataset = new Map(datasets.map((d) => [d.id, d]));
  for (const [id, ds] of stewardships) for (const d of ds) dataset.get(d)!.stewards.push(id);

  const world: World = {
    seed,
    sizes,
    today,
    projects,
    vendors,
    principals,
    datasets,
    stewardships,
    sanctioned,
    requests: [],
    principal: new Map(principals.map((p) => [p.id, p])),
    dataset,
    vendor: new Map(vendors.map((v) => [v.id, v])),
  };
  world.requests = buildRequests(world, rand, byProject);
  return world;
}

/**
 * The workload: principals in a seeded order (so a run of N requests sees N
 * different principals, as far as there are), each asking about a dataset
 * near them (their projects, or what they steward) or anywhere, for a
 * purpose their role usually has or the dataset mostly permits, naming one to
 * four of its columns.
 */
/** What each role mostly asks for. */
const USUAL_PURPOSE: Record<string, Purpose> = {
  clinician: 'operations',
  'attending-physician': 'operations',
  'data-steward': 'operations',
  'data-scientist': 'model-training',
  'ml-pipeline': 'model-training',
  'ai-researcher': 'research',
  'vendor-analyst': 'model-evaluation',
};

function buildRequests(w: World, rand: () => number, byProject: Map<string, Dataset[]>): HospitalRequest[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const order = w.principals.slice();
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const out: HospitalRequest[] = [];
  for (let i = 0; i < w.sizes.requests; i++) {
    const p = order[i % order.length]!;
    let d: Dataset;
    const stewarded = w.stewardships.get(p.id);
    const near = projectsOf(p).flatMap((pr) => byProject.get(pr) ?? []);
    if (stewarded && rand() < 0.3) d = w.dataset.get(pick(stewarded))!;
    else if (near.length && rand() < 0.8) d = pick(near);
    else d = pick(w.datasets);
    const usual = p.roles.map((b) => USUAL_PURPOSE[b.role]).find((x) => x && d.purposes.includes(x));
    const purpose = usual && rand() < 0.6 ? usual : rand() < 0.85 ? pick(d.purposes) : pick(PURPOSES);
    const plain = d.columns.filter((c) => !c.category).map((c) => c.name);
    const pool = plain.length && rand() < 0.5 ? plain : d.columns.map((c) => c.name);
    const n = 1 + Math.floor(rand() * Math.min(4, pool.length));
    const columns = new Set<string>();
    while (columns.size < n) columns.add(pick(pool));
    out.push({ principal: p.id, dataset: d.id, purpose, columns: [...columns] });
  }
  return out;
}
