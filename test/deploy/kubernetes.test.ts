/**
 * The Kubernetes manifests (deploy/kubernetes, docs/kubernetes.md), as the
 * kustomization lists them, alone and with each component applied:
 *  - each object is validated against the Kubernetes API schemas of the
 *    `kubernetes-models` package, and the CloudNativePG objects against
 *    `@kubernetes-models/cloudnative-pg` (generated from the operator's
 *    CRDs): types, required fields, enums, formats;
 *  - those validators do not reject unknown fields (kubectl's strict field
 *    validation does), so each object is also type-checked by the TypeScript
 *    compiler against the same packages' interfaces, whose excess-property
 *    check rejects a misspelt or misplaced field;
 *  - then the invariants Custos relies on: replicas, non-root, read-only root
 *    filesystem, capabilities, seccomp, probes, secrets as files, the
 *    migration Job before the replicas, the disruption budget, the network
 *    policy, the synchronous standby, and a configuration that Custos's own
 *    loadConfig accepts and whose connections fit the database.
 */
import path from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { connectionBudget, connectionPlan } from '../../src/db/connectionBudget.ts';
import { build, KUBERNETES_DIR, kustomization, one, type Loaded, type Manifest } from './manifests.ts';

/** Where each apiVersion's models live. */
const MODELS: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'batch/v1': 'kubernetes-models/batch/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'postgresql.cnpg.io/v1': '@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1',
};

const COMPONENTS = ['components/ingress', 'components/pgbouncer'];
/** The base alone, each component alone, and all of them. */
const VARIANTS: [string, string[]][] = [['base', []], ...COMPONENTS.map((c): [string, string[]] => [c, [c]]), ['every component', COMPONENTS]];

type Model = { validate(): void };
/** Validates with the package's JSON schema (throws with the failing paths). */
async function validate(m: Manifest): Promise<void> {
  const module = MODELS[m.apiVersion];
  if (!module) throw new Error(`${m.kind}/${m.metadata.name}: no models for apiVersion ${m.apiVersion}`);
  const models = (await import(`${module}/${m.kind}`)) as Record<string, new (data: unknown) => Model>;
  const Model = models[m.kind];
  if (!Model) throw new Error(`${m.kind}/${m.metadata.name}: ${module} has no ${m.kind}`);
  new Model(m).validate();
}

/**
 * Type-checks objects against the packages' interfaces (I<Kind>), as object
 * literals, so that any field the API does not have is an error. Returns the
 * compiler's messages (empty: all clean).
 */
function typeCheck(objects: Manifest[]): string[] {
  const file = path.join(KUBERNETES_DIR, '__manifests_typecheck.ts');
  const source = objects
    .map((m, i) => `const m${i}: import('${MODELS[m.apiVersion]}/${m.kind}').I${m.kind} = ${JSON.stringify(m)};\nvoid m${i};`)
    .join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2023, types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (f) => (path.resolve(f) === file ? source : read(f));
  host.fileExists = (f) => path.resolve(f) === file || exists(f);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, ...rest) => (path.resolve(f) === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe.each(VARIANTS)('the manifests (%s)', (_name, components) => {
  let objects: Loaded[];
  beforeAll(() => {
    objects = build(components);
  });

  it('every object is valid against the Kubernetes and CloudNativePG schemas', async () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const { file, object } of objects) {
      await expect(validate(object).then(() => 'valid', (err: Error) => `${file}: ${object.kind}/${object.metadata.name}: ${err.message}`)).resolves.toBe('valid');
    }
  });
});

it('no object, in the base or with any component, has a field the API does not know', () => {
  // One compilation for every distinct object of every variant (each costs seconds).
  const distinct = new Map<string, Manifest>();
  for (const [, components] of VARIANTS) for (const { object } of build(components)) distinct.set(JSON.stringify(object), object);
  expect(typeCheck([...distinct.values()])).toEqual([]);
});

describe('the checks themselves', () => {
  it('the schema validators refuse a wrong type, a missing required field and a value outside an enum', async () => {
    const deployment = structuredClone(one(build(), 'Deployment'));
    (deployment.spec as { replicas: unknown }).replicas = 'three';
    await expect(validate(deployment)).rejects.toThrow(/replicas/);
    const noSelector = structuredClone(one(build(), 'Deployment'));
    delete (noSelector.spec as { selector?: unknown }).selector;
    await expect(validate(noSelector)).rejects.toThrow(/selector/);
    const cluster = structuredClone(one(build(), 'Cluster'));
    (cluster.spec as { postgresql: { synchronous: { method: string } } }).postgresql.synchronous.method = 'all';
    await expect(validate(cluster)).rejects.toThrow(/method/);
  });

  it('the type check refuses a misspelt field, at any depth, in either package', () => {
    const deployment = structuredClone(one(build(), 'Deployment'));
    const c = podSpec(deployment).containers[0]!;
    (c.securityContext as Record<string, unknown>).readOnlyRootFileSystem = true;
    const cluster = structuredClone(one(build(), 'Cluster'));
    (cluster.spec as Record<string, unknown>).instance = 3;
    const errors = typeCheck([deployment, cluster]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/'"readOnlyRootFileSystem"' does not exist in type 'ISecurityContext'/);
    expect(errors[1]).toMatch(/'"instance"' does not exist in type 'IClusterSpec'/);
  });
});

interface Container {
  name: string;
  image: string;
  command?: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: unknown }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: unknown } }[];
  ports?: { name?: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Probe {
  httpGet?: { path: string; port: string | number; scheme?: string };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  volumes?: { name: string; secret?: { secretName: string }; emptyDir?: unknown; configMap?: unknown }[];
  restartPolicy?: string;
  automountServiceAccountToken?: boolean;
}
function podSpec(m: Manifest): PodSpec {
  return (m.spec as { template: { spec: PodSpec } }).template.spec;
}
const templateLabels = (m: Manifest) => (m.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The environment a container gets from its ConfigMaps (no other source is used). */
function environment(objects: Loaded[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) Object.assign(env, (one(objects, 'ConfigMap', from.configMapRef!.name) as unknown as { data: Record<string, string> }).data);
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

/** The files a pod sees from Secret volumes: mount path + key → value (stringData). */
function secretFiles(objects: Loaded[], pod: PodSpec, c: Container): Map<string, string> {
  const files = new Map<string, string>();
  for (const mount of c.volumeMounts ?? []) {
    const secretName = pod.volumes!.find((v) => v.name === mount.name)?.secret?.secretName;
    if (!secretName) continue;
    const data = (one(objects, 'Secret', secretName) as unknown as { stringData: Record<string, string> }).stringData;
    for (const [k, v] of Object.entries(data)) files.set(path.posix.join(mount.mountPath, k), v);
  }
  return files;
}

/** What the example Secrets hold, with the placeholder key replaced by a valid one (the rest is read as written). */
function loadedConfig(objects: Loaded[], pod: PodSpec, c: Container) {
  const files = secretFiles(objects, pod, c);
  return loadConfig(environment(objects, c), (p) => {
    const v = files.get(p);
    if (v === undefined) throw new Error(`no such file ${p}`);
    return p.endsWith('/encryption-key') ? Buffer.alloc(32, 1).toString('base64') : v;
  });
}

describe.each(VARIANTS)('what Custos relies on (%s)', (_name, components) => {
  let objects: Loaded[];
  let deployment: Manifest;
  let job: Manifest;
  beforeAll(() => {
    objects = build(components);
    deployment = one(objects, 'Deployment', 'custos');
    job = one(objects, 'Job', 'custos-migrate');
  });

  it('at least three replicas, one process each, kept through disruptions and scaled from three', () => {
    expect((deployment.spec as { replicas: number }).replicas).toBeGreaterThanOrEqual(3);
    const env = environment(objects, podSpec(deployment).containers[0]!);
    expect(env.CUSTOS_WORKERS).toBe('1');
    const pdb = one(objects, 'PodDisruptionBudget').spec as { minAvailable: number; selector: { matchLabels: Record<string, string> } };
    expect(pdb.minAvailable).toBeGreaterThanOrEqual(2);
    expect(pdb.minAvailable).toBeLessThan((deployment.spec as { replicas: number }).replicas);
    expect(matches(pdb.selector.matchLabels, templateLabels(deployment))).toBe(true);
    const hpa = one(objects, 'HorizontalPodAutoscaler').spec as { minReplicas: number; maxReplicas: number; scaleTargetRef: { kind: string; name: string } };
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'custos' });
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(3);
    // The connection budget counts every pod that can run at once: the autoscaler's most plus the rollout's surge.
    const surge = (deployment.spec as { strategy: { rollingUpdate: { maxSurge: number } } }).strategy.rollingUpdate.maxSurge;
    expect(Number(env.CUSTOS_REPLICAS)).toBeGreaterThanOrEqual(hpa.maxReplicas + surge);
  });

  it('every pod (replicas and the Job) runs as non-root, read-only, with no capabilities and the runtime seccomp profile', () => {
    for (const m of [deployment, job]) {
      const pod = podSpec(m);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect((c.securityContext!.capabilities as { add?: unknown }).add).toBeUndefined();
        expect(c.securityContext!.privileged).not.toBe(true);
        expect(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory).toBeTruthy();
        // Whatever is writable is an emptyDir; secrets are mounted read-only.
        for (const mount of c.volumeMounts ?? []) {
          const v = pod.volumes!.find((x) => x.name === mount.name)!;
          if (v.secret) expect(mount.readOnly).toBe(true);
          else expect(v.emptyDir).toBeDefined();
        }
      }
    }
  });

  it('readiness is /readyz and liveness /healthz, on the container port, over HTTPS when Custos serves TLS', () => {
    const c = podSpec(deployment).containers[0]!;
    const env = environment(objects, c);
    const port = c.ports!.find((p) => p.containerPort === Number(env.PORT))!;
    expect(port).toBeDefined();
    const scheme = env.CUSTOS_TLS_CERT_FILE ? 'HTTPS' : 'HTTP';
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: port.name, scheme });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: port.name, scheme });
    expect(c.startupProbe?.httpGet).toEqual({ path: '/healthz', port: port.name, scheme });
    const service = one(objects, 'Service').spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
    expect(matches(service.selector, templateLabels(deployment))).toBe(true);
    expect(service.ports.map((p) => p.targetPort)).toEqual([port.name]);
  });

  it('secrets reach the processes as files, never as environment variables', () => {
    for (const m of [deployment, job]) {
      const pod = podSpec(m);
      const c = pod.containers[0]!;
      const env = environment(objects, c);
      expect(env.CUSTOS_ENCRYPTION_KEY).toBeUndefined();
      expect(env.DATABASE_URL).toBeUndefined();
      expect(c.envFrom!.every((f) => f.secretRef === undefined)).toBe(true);
      expect((c.env ?? []).every((e) => e.valueFrom?.secretKeyRef === undefined)).toBe(true);
      const files = secretFiles(objects, pod, c);
      for (const name of ['CUSTOS_ENCRYPTION_KEY_FILE', 'DATABASE_URL_FILE', ...(env.DATABASE_DIRECT_URL_FILE ? ['DATABASE_DIRECT_URL_FILE'] : [])]) {
        expect(files.has(env[name]!), `${m.kind}: ${name}=${env[name]} is a mounted Secret key`).toBe(true);
      }
    }
  });

  it('the migration Job migrates, and the replicas do not (they wait for it, not ready until then)', () => {
    const pod = podSpec(job);
    expect(pod.containers[0]!.command).toEqual(['node', 'src/cli/index.ts', 'migrate']);
    expect(['OnFailure', 'Never']).toContain(pod.restartPolicy);
    expect(pod.containers[0]!.image).toBe(podSpec(deployment).containers[0]!.image);
    expect(loadedConfig(objects, podSpec(deployment), podSpec(deployment).containers[0]!).deployment.migrateAtStart).toBe(false);
    // The Job sees the same database and configuration.
    expect(environment(objects, pod.containers[0]!)).toEqual(environment(objects, podSpec(deployment).containers[0]!));
    // The Job's pods are not the Service's, the PDB's or the Deployment's.
    expect(matches((deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, templateLabels(job))).toBe(false);
  });

  it('the configuration passes Custos\'s own checks, and every replica\'s connections fit the database', () => {
    const pod = podSpec(deployment);
    const config = loadedConfig(objects, pod, pod.containers[0]!);
    expect(config.env).toBe('production');
    expect(config.workers).toBe(1);
    const cluster = one(objects, 'Cluster').spec as { postgresql: { parameters: Record<string, string> } };
    const limits = { maxConnections: Number(cluster.postgresql.parameters.max_connections), superuserReservedConnections: Number(cluster.postgresql.parameters.superuser_reserved_connections ?? 3), reservedConnections: 0 };
    const b = connectionBudget(connectionPlan(config), limits);
    // PgBouncer's own server connections (default_pool_size per database and user, per pooler pod) come out of the same budget.
    const pooler = objects.find((l) => l.object.kind === 'Pooler')?.object.spec as { instances: number; pgbouncer: { poolMode: string; parameters: Record<string, string> } } | undefined;
    const poolerConnections = pooler ? pooler.instances * Number(pooler.pgbouncer.parameters.default_pool_size) : 0;
    // Room left for the migration Job (its owner pool) and an operator's session.
    expect(b.needed + poolerConnections + 2 + 5).toBeLessThanOrEqual(b.available);
    if (pooler) {
      expect(pooler.pgbouncer.poolMode).toBe('transaction');
      expect(config.deployment.pooler).toBe('transaction');
      expect(new URL(config.databaseUrl!).hostname).toBe(one(objects, 'Pooler').metadata.name);
      expect(new URL(config.databaseUrl!).username).toBe(config.dbRole);
      expect(new URL(config.deployment.directUrl!).hostname).toBe(`${one(objects, 'Cluster').metadata.name}-rw`);
    } else {
      expect(config.deployment.pooler).toBe('none');
      expect(new URL(config.databaseUrl!).hostname).toBe(`${one(objects, 'Cluster').metadata.name}-rw`);
    }
  });

  it('the network policy covers every Custos pod: in only to the HTTPS port, out only to DNS and PostgreSQL (or its pooler)', () => {
    const np = one(objects, 'NetworkPolicy', 'custos').spec as {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: { ports: { port: number }[] }[];
      egress: { to: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[];
    };
    expect(np.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(matches(np.podSelector.matchLabels, templateLabels(deployment))).toBe(true);
    expect(matches(np.podSelector.matchLabels, templateLabels(job))).toBe(true);
    const port = Number(environment(objects, podSpec(deployment).containers[0]!).PORT);
    for (const rule of np.ingress) expect(rule.ports.map((p) => p.port)).toEqual([port]);
    expect([...new Set(np.egress.flatMap((r) => r.ports.map((p) => p.port)))].sort()).toEqual([53, 5432]);
    const database = np.egress.filter((r) => r.ports.some((p) => p.port === 5432)).flatMap((r) => r.to.map((t) => t.podSelector?.matchLabels));
    expect(database).toContainEqual({ 'cnpg.io/cluster': one(objects, 'Cluster').metadata.name });
    if (objects.some((l) => l.object.kind === 'Pooler')) expect(database).toContainEqual({ 'cnpg.io/poolerName': one(objects, 'Pooler').metadata.name });
  });

  it('PostgreSQL runs as three CloudNativePG instances with a synchronous standby that commits wait for', () => {
    const spec = one(objects, 'Cluster').spec as { instances: number; postgresql: { synchronous: { method: string; number: number; dataDurability?: string } }; bootstrap: { initdb: { secret: { name: string } } } };
    expect(spec.instances).toBe(3);
    expect(['any', 'first']).toContain(spec.postgresql.synchronous.method);
    expect(spec.postgresql.synchronous.number).toBeGreaterThanOrEqual(1);
    expect(spec.postgresql.synchronous.number).toBeLessThan(spec.instances);
    expect(spec.postgresql.synchronous.dataDurability ?? 'required').toBe('required');
    expect(one(objects, 'Secret', spec.bootstrap.initdb.secret.name).type).toBe('kubernetes.io/basic-auth');
  });

  it('the database owner is the URL the Job migrates with, and may grant the application role without CREATEROLE', () => {
    const pod = podSpec(deployment);
    const config = loadedConfig(objects, pod, pod.containers[0]!);
    const initdb = (one(objects, 'Cluster').spec as { bootstrap: { initdb: { owner: string; database: string; postInitSQL: string[] } } }).bootstrap.initdb;
    const ownerUrl = new URL(config.deployment.directUrl ?? config.databaseUrl!);
    expect(ownerUrl.username).toBe(initdb.owner);
    expect(ownerUrl.pathname).toBe(`/${initdb.database}`);
    expect(initdb.postInitSQL).toEqual([`CREATE ROLE ${config.dbRole} NOLOGIN`, `GRANT ${config.dbRole} TO ${initdb.owner} WITH ADMIN OPTION`]);
  });
});

describe('the kustomization', () => {
  it('lists every manifest in the folder (no file escapes validation), and its components exist', () => {
    const listed = new Set<string>();
    for (const dir of ['.', ...COMPONENTS]) {
      listed.add(path.join(dir, 'kustomization.yaml'));
      for (const r of kustomization(dir).resources ?? []) listed.add(path.join(dir, r));
    }
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(path.join(KUBERNETES_DIR, dir))) {
        const rel = path.join(dir, name);
        if (statSync(path.join(KUBERNETES_DIR, rel)).isDirectory()) walk(rel);
        else if (/\.ya?ml$/.test(name)) files.push(rel);
      }
    };
    walk('.');
    expect(files.sort()).toEqual([...listed].sort());
    const k = kustomization();
    expect(k.kind).toBe('Kustomization');
    // Every container's image is the one `images:` sets, so one line names the release everywhere.
    const images = new Set(k.images?.map((i) => i.name));
    for (const m of build(COMPONENTS).map((l) => l.object).filter((o) => o.kind === 'Deployment' || o.kind === 'Job')) {
      for (const c of podSpec(m).containers) expect(images.has(c.image), `${m.kind}/${m.metadata.name}: ${c.image}`).toBe(true);
    }
  });
});
