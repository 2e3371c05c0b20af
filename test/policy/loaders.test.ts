/**
 * Loading the live policy: rule documents and test files from a folder, the
 * role graph from the catalog (every page), the store's latest version
 * (seeded from the shipped files when empty), a snapshot version that
 * changes with the content and the role graph, and the shipped role table
 * loaded into the catalog without touching roles administrators edited.
 * The catalog and the policy store are given as tables behind their
 * interfaces (their PostgreSQL implementations have tests of their own).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../../src/catalog/store.ts';
import { ConfigError, ConflictError, NotFoundError } from '../../src/errors.ts';
import { loadDefaultRoles, POLICIES_DIR } from '../../src/policy/loadDefaultRoles.ts';
import { livePolicyLoader, readPolicyFiles, readPolicyFolder, snapshotVersion, sourcesOf } from '../../src/policy/loadLivePolicy.ts';
import { loadPolicy, readRuleDocuments, roleGraph } from '../../src/policy/loadPolicy.ts';
import { policyDigest, policyEtag, type PolicyFiles, type PolicyStore, type PolicyVersion } from '../../src/policy/store.ts';
import { defaultRoles } from '../engine/support.ts';

const RULE = (id: string) => `rules:\n  - { id: ${id}, effect: allow, roles: [data-scientist], actions: [dataset:read] }\n`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'custos-policy-'));
  await mkdir(path.join(dir, 'rules'));
  await mkdir(path.join(dir, 'tests'));
  await writeFile(path.join(dir, 'rules', 'b.yaml'), RULE('rb'));
  await writeFile(path.join(dir, 'rules', 'a.yml'), RULE('ra'));
  await writeFile(path.join(dir, 'rules', 'c.json'), JSON.stringify({ rules: [] }));
  await writeFile(path.join(dir, 'rules', 'notes.txt'), 'not a rule document');
  await writeFile(path.join(dir, 'rules', 'old.yaml.bak'), 'not a rule document');
  await writeFile(path.join(dir, 'rules', 'draft.json~'), 'not a rule document');
  await writeFile(path.join(dir, 'rules', 'yaml'), 'no extension');
  await writeFile(path.join(dir, 'tests', 't.yaml'), 'x: 1\n');
  await writeFile(path.join(dir, 'tests', 'u.yml'), 'y: 2\n');
  await writeFile(path.join(dir, 'tests', 'v.json'), '{}');
  await writeFile(path.join(dir, 'tests', 'w.yaml.orig'), 'z: 3\n');
  // Created out of name order: the readers sort, whatever order the directory lists them in.
  await mkdir(path.join(dir, 'many'));
  for (const n of ['m', 'c', 'x', 'a', 'q', 'f', 'z', 'b', 'k', 'e']) await writeFile(path.join(dir, 'many', `${n}.yaml`), `${n}: 1\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A catalog holding `roles`, listed `pageSize` at a time, recording each page asked for. */
function catalogOf(roles: { id: string; inherits: string[] }[], pageSize = 200) {
  const pages: unknown[] = [];
  const created: string[] = [];
  const known = new Map(roles.map((r) => [r.id, r]));
  const catalog = {
    pages,
    created,
    async listRoles(page: { limit: number; cursor?: string | undefined }) {
      pages.push(page);
      const start = page.cursor ? Number(page.cursor) : 0;
      const all = [...known.values()];
      const items = all.slice(start, start + Math.min(page.limit, pageSize));
      const next = start + items.length;
      return { items, next_cursor: next < all.length ? String(next) : null };
    },
    async getRole(id: string) {
      const r = known.get(id);
      if (!r) throw new NotFoundError(`Role ${id}`);
      return r;
    },
    async createRole(r: { id: string; inherits?: string[] }) {
      created.push(r.id);
      known.set(r.id, { id: r.id, inherits: r.inherits ?? [] });
      return r;
    },
  };
  return catalog as typeof catalog & CatalogStore;
}

/** A policy store over an array of versions, counting reads. */
function storeOf(initial: PolicyVersion[] = []) {
  const versions = [...initial];
  const calls = { head: 0, get: [] as number[], seed: [] as unknown[] };
  const store: Partial<PolicyStore> = {
    async head() {
      calls.head++;
      const v = versions.at(-1);
      return v && { version: v.version, digest: v.digest };
    },
    async get(n) {
      calls.get.push(n);
      const v = versions.find((x) => x.version === n);
      if (!v) throw new NotFoundError(`Policy version ${n}`);
      return v;
    },
    async seed(v) {
      calls.seed.push(v);
      if (!versions.length) versions.push(version(1, v.documents, v.tests));
    },
  };
  return { store: store as PolicyStore, versions, calls };
}
function version(n: number, documents: PolicyFiles, tests: PolicyFiles = {}): PolicyVersion {
  return { version: n, documents, tests, digest: policyDigest(documents, tests), author_id: null, created_at: new Date(0).toISOString(), comment: null, rollback_of: null };
}
const clock = { now: () => new Date(Date.UTC(2026, 5, 1)) };
const ROLES = defaultRoles().map((r) => ({ id: r.id, inherits: [...r.inherits] }));

describe('reading policy folders', () => {
  it('reads *.yaml, *.yml and *.json rule documents in name order, and nothing else', async () => {
    const docs = await readRuleDocuments(path.join(dir, 'rules'));
    expect(docs.map((d) => d.name)).toEqual(['a.yml', 'b.yaml', 'c.json']);
    expect(docs[0]!.text).toBe(RULE('ra'));
  });

  it('reads the shipped rules by default', async () => {
    expect((await readRuleDocuments()).map((d) => d.name)).toEqual(['default.yaml']);
  });

  it('reads test files (*.yaml, *.yml) by name; an absent folder has none; another error is thrown', async () => {
    expect(await readPolicyFiles(path.join(dir, 'tests'))).toEqual({ 't.yaml': 'x: 1\n', 'u.yml': 'y: 2\n' });
    expect(Object.keys(await readPolicyFiles(path.join(dir, 'many')))).toEqual(['a', 'b', 'c', 'e', 'f', 'k', 'm', 'q', 'x', 'z'].map((n) => `${n}.yaml`));
    expect((await readRuleDocuments(path.join(dir, 'many'))).map((d) => d.name)).toEqual(['a', 'b', 'c', 'e', 'f', 'k', 'm', 'q', 'x', 'z'].map((n) => `${n}.yaml`));
    expect(await readPolicyFiles(path.join(dir, 'absent'))).toEqual({});
    await expect(readPolicyFiles(path.join(dir, 'rules', 'b.yaml'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('reads a policy folder: documents by name and tests', async () => {
    expect(await readPolicyFolder(dir)).toEqual({ documents: { 'a.yml': RULE('ra'), 'b.yaml': RULE('rb'), 'c.json': '{"rules":[]}' }, tests: { 't.yaml': 'x: 1\n', 'u.yml': 'y: 2\n' } });
    const shipped = await readPolicyFolder();
    expect(Object.keys(shipped.documents)).toEqual(['default.yaml']);
    expect(POLICIES_DIR.endsWith(`${path.sep}policies${path.sep}`)).toBe(true);
  });

  it('orders names as sourcesOf does, also where the file system lists them otherwise', async () => {
    // The file system lists names in UTF-8 byte order (U+FFFD before U+1F600); JavaScript orders strings by
    // UTF-16 code units (U+1F600 is the surrogate pair D83D DE00, before FFFD). The readers use JavaScript's
    // order, the one sourcesOf uses for stored versions: the same folder compiles to the same rule order and version either way.
    const odd = await mkdtemp(path.join(os.tmpdir(), 'custos-order-'));
    try {
      const names = ['\u{FFFD}.yaml', '\u{1F600}.yaml', 'z.yaml'];
      for (const [i, n] of names.entries()) await writeFile(path.join(odd, n), RULE(`r${i}`));
      const expected = ['z.yaml', '\u{1F600}.yaml', '\u{FFFD}.yaml'];
      const docs = await readRuleDocuments(odd);
      expect(docs.map((d) => d.name)).toEqual(expected);
      expect(Object.keys(await readPolicyFiles(odd))).toEqual(expected);
      expect(docs).toEqual(sourcesOf(Object.fromEntries(docs.map((d) => [d.name, d.text]))));
      expect((await loadPolicy(catalogOf(ROLES), odd)).rules.map((r) => r.id)).toEqual(['r2', 'r1', 'r0']);
    } finally {
      await rm(odd, { recursive: true, force: true });
    }
  });

  it('turns files into compiler sources in name order', () => {
    expect(sourcesOf({ 'b.yaml': 'B', 'a.yaml': 'A' })).toEqual([
      { name: 'a.yaml', text: 'A' },
      { name: 'b.yaml', text: 'B' },
    ]);
  });
});

describe('the role graph and loadPolicy', () => {
  it('reads every page of the catalog\'s roles, 200 at a time', async () => {
    const roles = Array.from({ length: 5 }, (_, i) => ({ id: `r${i}`, inherits: i ? [`r${i - 1}`] : [] }));
    const catalog = catalogOf(roles, 2);
    expect(await roleGraph(catalog)).toEqual(roles);
    expect(catalog.pages).toEqual([
      { limit: 200, cursor: undefined },
      { limit: 200, cursor: '2' },
      { limit: 200, cursor: '4' },
    ]);
  });

  it('compiles the folder\'s documents against the catalog\'s roles', async () => {
    const s = await loadPolicy(catalogOf(ROLES), path.join(dir, 'rules'));
    expect(s.rules.map((r) => r.id)).toEqual(['ra', 'rb']);
    expect((await loadPolicy(catalogOf(ROLES))).rules.length).toBeGreaterThan(3);
  });
});

describe('livePolicyLoader', () => {
  it('compiles the latest stored version under a version naming it and the role graph', async () => {
    const { store } = storeOf([version(1, { 'a.yaml': RULE('one') }), version(2, { 'a.yaml': RULE('two') })]);
    const s = await livePolicyLoader({ store, catalog: catalogOf(ROLES), clock })();
    expect(s.rules.map((r) => r.id)).toEqual(['two']);
    expect(s.version).toBe(snapshotVersion(2, policyDigest({ 'a.yaml': RULE('two') }, {}), ROLES));
    expect(s.version).toMatch(/^v2\.[0-9a-f]{8}$/);
  });

  it('returns the snapshot it has while version and role graph are unchanged, and recompiles when either changes', async () => {
    const { store, versions, calls } = storeOf([version(1, { 'a.yaml': RULE('one') })]);
    const catalog = catalogOf(ROLES);
    const load = livePolicyLoader({ store, catalog, clock });
    const first = await load();
    expect(await load()).toBe(first);
    expect(calls.get).toEqual([1]);
    versions.push(version(2, { 'a.yaml': RULE('two') }));
    const second = await load();
    expect(second.rules.map((r) => r.id)).toEqual(['two']);
    await catalog.createRole({ id: 'extra', inherits: [] });
    const third = await load();
    expect(third).not.toBe(second);
    expect(third.version).not.toBe(second.version);
    expect(third.roleClosure.has('extra')).toBe(true);
  });

  it('seeds an empty store with version 1 from the folder, once', async () => {
    const { store, calls } = storeOf();
    const load = livePolicyLoader({ store, catalog: catalogOf(ROLES), clock, dir });
    const s = await load();
    expect(calls.seed).toEqual([{ documents: { 'a.yml': RULE('ra'), 'b.yaml': RULE('rb'), 'c.json': '{"rules":[]}' }, tests: { 't.yaml': 'x: 1\n', 'u.yml': 'y: 2\n' }, authorId: null, comment: 'seeded from the shipped policy files', at: clock.now() }]);
    expect(s.version).toMatch(/^v1\./);
    expect(s.rules.map((r) => r.id)).toEqual(['ra', 'rb']);
    await load();
    expect(calls.seed).toHaveLength(1);
  });

  it('fails when the store is still empty after seeding', async () => {
    const store = { head: async () => undefined, seed: async () => {} } as unknown as PolicyStore;
    await expect(livePolicyLoader({ store, catalog: catalogOf(ROLES), clock, dir })()).rejects.toThrow('the policy store is empty after seeding');
  });
});

describe('snapshot versions, digests and ETags', () => {
  it('a snapshot version changes with the number, the digest and the role graph, not with the graph\'s order', () => {
    const v = snapshotVersion(3, 'abc', ROLES);
    expect(v).toMatch(/^v3\.[0-9a-f]{8}$/);
    expect(snapshotVersion(4, 'abc', ROLES).slice(3)).toBe(v.slice(3));
    expect(snapshotVersion(3, 'abd', ROLES)).not.toBe(v);
    expect(snapshotVersion(3, 'abc', [...ROLES].reverse())).toBe(v);
    expect(snapshotVersion(3, 'abc', [{ id: 'a', inherits: ['x', 'y'] }])).toBe(snapshotVersion(3, 'abc', [{ id: 'a', inherits: ['y', 'x'] }]));
    expect(snapshotVersion(3, 'abc', [{ id: 'a', inherits: ['x'] }])).not.toBe(snapshotVersion(3, 'abc', [{ id: 'a', inherits: [] }]));
  });

  it('a digest covers documents and tests by name, whatever the key order', () => {
    const d = policyDigest({ 'a.yaml': 'A', 'b.yaml': 'B' }, { 't.yaml': 'T' });
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(policyDigest({ 'b.yaml': 'B', 'a.yaml': 'A' }, { 't.yaml': 'T' })).toBe(d);
    expect(policyDigest({ 'a.yaml': 'A', 'b.yaml': 'B' }, {})).not.toBe(d);
    expect(policyDigest({ 'a.yaml': 'A', 'b.yaml': 'b' }, { 't.yaml': 'T' })).not.toBe(d);
    expect(policyDigest({ 'a.yaml': 'A' }, { 'b.yaml': 'B', 't.yaml': 'T' })).not.toBe(d);
  });

  it('an ETag quotes the version and 16 hex of the digest', () => {
    expect(policyEtag({ version: 12, digest: '0123456789abcdef0123' })).toBe('"12-0123456789abcdef"');
  });
});

describe('loadDefaultRoles', () => {
  it('creates the shipped roles the catalog lacks, and leaves the others as they are', async () => {
    const edited = { id: 'approver', inherits: ['ai-researcher'] };
    const catalog = catalogOf([edited]);
    const r = await loadDefaultRoles(catalog);
    expect(r.created).toEqual(ROLES.map((x) => x.id).filter((id) => id !== 'approver'));
    expect(await catalog.getRole('approver')).toBe(edited);
    expect((await loadDefaultRoles(catalog)).created).toEqual([]);
  });

  it('treats a role created meanwhile by another replica as loaded, and passes on other errors', async () => {
    const raced = catalogOf([]);
    raced.createRole = async () => {
      throw new ConflictError('exists');
    };
    expect((await loadDefaultRoles(raced)).created).toEqual([]);
    const broken = catalogOf([]);
    broken.createRole = async () => {
      throw new Error('disk full');
    };
    await expect(loadDefaultRoles(broken)).rejects.toThrow('disk full');
    const unreadable = catalogOf([]);
    unreadable.getRole = async () => {
      throw new Error('connection lost');
    };
    await expect(loadDefaultRoles(unreadable)).rejects.toThrow('connection lost');
  });

  it('refuses a malformed roles file with each problem and its path', async () => {
    const file = path.join(dir, 'roles.yaml');
    await writeFile(file, 'roles:\n  - id: Bad Id\n    description: x\n  - id: ok\n');
    const err = await loadDefaultRoles(catalogOf([]), file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: roles\\.0\\.id: .+; roles\\.1\\.description: .+$`));
    await writeFile(file, 'roles:\n  - id: ok\n    description: x\n    extra: 1\n');
    await expect(loadDefaultRoles(catalogOf([]), file)).rejects.toThrow(`${file}: roles.0: Unrecognized key: "extra"`);
  });
});
