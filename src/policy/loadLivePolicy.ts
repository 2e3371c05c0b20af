/**
 * Loads the live policy: the latest version in the policy store (seeded with
 * version 1 from policies/rules and policies/tests when the store is empty)
 * and the role graph from the catalog. A reload that finds the same version
 * and role graph returns the snapshot it already has, so the periodic safety
 * net costs two small queries.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock } from '../clock.ts';
import type { PolicySnapshot } from '../engine/snapshot.ts';
import { compilePolicy, type PolicySource, type RoleGraphEntry } from './compile.ts';
import type { ConditionLimits } from './conditionCost.ts';
import { POLICIES_DIR } from './loadDefaultRoles.ts';
import { readRuleDocuments, roleGraph } from './loadPolicy.ts';
import type { PolicyFiles, PolicyStore } from './store.ts';

/** Reads `*.yaml` / `*.yml` files of a folder by name (an absent folder has none). */
export async function readPolicyFiles(dir: string): Promise<PolicyFiles> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return {};
    throw err;
  }
  const out: PolicyFiles = {};
  for (const n of names) out[n] = await readFile(path.join(dir, n), 'utf8');
  return out;
}

/** Rule documents and test files of a policy folder (`rules/`, `tests/`). */
export async function readPolicyFolder(dir = POLICIES_DIR): Promise<{ documents: PolicyFiles; tests: PolicyFiles }> {
  const docs = await readRuleDocuments(path.join(dir, 'rules'));
  return { documents: Object.fromEntries(docs.map((d) => [d.name, d.text])), tests: await readPolicyFiles(path.join(dir, 'tests')) };
}

/** Files as compiler sources, in name order. */
export function sourcesOf(documents: PolicyFiles): PolicySource[] {
  return Object.keys(documents)
    .sort()
    .map((name) => ({ name, text: documents[name]! }));
}

/** The snapshot version of a stored version under a role graph: `v<n>.<8 hex>`. */
export function snapshotVersion(version: number, digest: string, roles: readonly RoleGraphEntry[]): string {
  const graph = JSON.stringify([...roles].map((r) => [r.id, [...r.inherits].sort()]).sort());
  return `v${version}.${createHash('sha256').update(digest).update(graph).digest('hex').slice(0, 8)}`;
}

/** What {@link livePolicyLoader} takes. */
export interface LivePolicyLoaderOptions {
  store: PolicyStore;
  catalog: CatalogStore;
  clock: Clock;
  /** The folder version 1 is seeded from. */
  dir?: string;
  /** The cost budget of conditions (CUSTOS_POLICY_CONDITION_*). */
  conditionLimits?: ConditionLimits | undefined;
}

/** A load function for PolicyHolder that reads the store and the catalog. */
export function livePolicyLoader(o: LivePolicyLoaderOptions): () => Promise<PolicySnapshot> {
  let last: { key: string; snapshot: PolicySnapshot } | undefined;
  return async () => {
    const [first, roles] = await Promise.all([o.store.head(), roleGraph(o.catalog)]);
    let head = first;
    if (!head) {
      const files = await readPolicyFolder(o.dir);
      await o.store.seed({ ...files, authorId: null, comment: 'seeded from the shipped policy files', at: o.clock.now() });
      head = await o.store.head();
      if (!head) throw new Error('the policy store is empty after seeding');
    }
    const version = snapshotVersion(head.version, head.digest, roles);
    if (last?.key === version) return last.snapshot;
    const stored = await o.store.get(head.version);
    const snapshot = compilePolicy({ documents: sourcesOf(stored.documents), roles, version, conditionLimits: o.conditionLimits });
    last = { key: version, snapshot };
    return snapshot;
  };
}
