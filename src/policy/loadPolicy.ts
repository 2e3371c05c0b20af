/**
 * Loads the live policy: rule documents from policies/rules/*.yaml and the
 * role graph from the catalog, compiled into a snapshot.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CatalogStore } from '../catalog/store.ts';
import type { PolicySnapshot } from '../engine/snapshot.ts';
import { compilePolicy, type PolicySource, type RoleGraphEntry } from './compile.ts';
import { POLICIES_DIR } from './loadDefaultRoles.ts';

/** Reads every `*.yaml` / `*.yml` / `*.json` rule document of a folder, in name order. */
export async function readRuleDocuments(dir = path.join(POLICIES_DIR, 'rules')): Promise<PolicySource[]> {
  const names = (await readdir(dir)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(path.join(dir, name), 'utf8') })));
}

/** Every role of the catalog with the roles it inherits. */
export async function roleGraph(catalog: CatalogStore): Promise<RoleGraphEntry[]> {
  const out: RoleGraphEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await catalog.listRoles({ limit: 200, cursor });
    for (const r of page.items) out.push({ id: r.id, inherits: r.inherits });
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/** Compiles the live policy. */
export async function loadPolicy(catalog: CatalogStore, dir?: string): Promise<PolicySnapshot> {
  const [documents, roles] = await Promise.all([readRuleDocuments(dir), roleGraph(catalog)]);
  return compilePolicy({ documents, roles });
}
