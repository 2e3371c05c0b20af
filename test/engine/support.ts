/**
 * Small builders for engine facts and the shipped policy, shared by the
 * engine and policy tests. Defaults describe an active, non-vendor user with
 * no roles, grants or attributes; every builder takes overrides.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import type { PolicySnapshot } from '../../src/engine/snapshot.ts';
import type { BaaFacts, ColumnFacts, DatasetFacts, DecisionInput, GrantFacts, PrincipalFacts, RoleBinding } from '../../src/engine/types.ts';
import { compilePolicy, type PolicySource, type RoleGraphEntry } from '../../src/policy/compile.ts';
import { POLICIES_DIR } from '../../src/policy/loadDefaultRoles.ts';

/** 2026-06-01T12:00:00Z: the default "now" of the engine tests. */
export const NOW = Date.UTC(2026, 5, 1, 12);
export const HOUR = 3_600_000;

/** A principal: active user, no vendor, no roles, no grants unless overridden. */
export function principal(id: string, over: Partial<PrincipalFacts> = {}): PrincipalFacts {
  return { id, kind: 'user', status: 'active', projects: [], vendorId: null, baas: [], attributes: {}, roles: [], grants: [], ...over };
}

/** A role binding; project omitted = organisation-wide. */
export function role(name: string, project: string | null = null): RoleBinding {
  return { role: name, project };
}

/** A just-in-time grant, in force for an hour either side of NOW unless overridden. */
export function grant(id: string, over: Partial<GrantFacts> = {}): GrantFacts {
  return { id, role: 'data-scientist', project: null, datasetId: null, notBefore: NOW - HOUR, expiresAt: NOW + HOUR, breakGlass: false, ...over };
}

/** A BAA in force for the whole of 2026 unless overridden. */
export function baa(id: string, over: Partial<BaaFacts> = {}): BaaFacts {
  return { id, effectiveOn: '2026-01-01', expiresOn: '2027-01-01', purposes: ['model-training'], classifications: ['deidentified'], ...over };
}

/** Columns from `name` or `name:category` strings. */
export function columns(...specs: string[]): ColumnFacts[] {
  return specs.map((s) => {
    const [name, category] = s.split(':');
    return category ? { name: name!, category } : { name: name! };
  });
}

/** A dataset: project p0, de-identified, model-training, one plain column unless overridden. */
export function dataset(id: string, over: Partial<DatasetFacts> = {}): DatasetFacts {
  return { id, project: 'p0', owner: 'owner', classification: 'deidentified', purposes: ['model-training'], columns: columns('value'), audience: `urn:custos:dataset:${id}`, ...over };
}

/** A decision input at NOW for dataset:read of every listed column. */
export function request(p: PrincipalFacts, d: DatasetFacts, over: Partial<DecisionInput> = {}): DecisionInput {
  return { now: NOW, action: 'dataset:read', purpose: 'model-training', columns: d.columns.map((c) => c.name), principal: p, dataset: d, ...over };
}

/** The shipped rule documents (policies/rules/*.yaml), named by file. */
export function defaultDocuments(): PolicySource[] {
  const dir = `${POLICIES_DIR}rules/`;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ name: `rules/${f}`, text: readFileSync(dir + f, 'utf8') }));
}

/** The shipped role graph (policies/roles.yaml). */
export function defaultRoles(): RoleGraphEntry[] {
  const doc = parse(readFileSync(`${POLICIES_DIR}roles.yaml`, 'utf8')) as { roles: { id: string; inherits?: string[] }[] };
  return doc.roles.map((r) => ({ id: r.id, inherits: r.inherits ?? [] }));
}

/** Compiles rule documents (YAML text) against the default role graph plus `extraRoles`. */
export function snapshotOf(rulesYaml: string, extraRoles: RoleGraphEntry[] = []): PolicySnapshot {
  return compilePolicy({ documents: [{ name: 'test.yaml', text: rulesYaml }], roles: [...defaultRoles(), ...extraRoles] });
}
