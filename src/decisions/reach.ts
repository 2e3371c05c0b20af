/**
 * Reach: what a principal can read right now, computed from the policy
 * snapshot and the facts a decision is made on — never sampled from the log.
 * Pure: every answer here is what decide() itself says, so a row can never
 * claim more (or less) than a decision for that principal, dataset and
 * purpose would grant.
 *
 * For each purpose the dataset permits, decide() is asked with every column;
 * a deny by column names the columns the allows would have granted, and
 * decide() is asked again with those. A service's second decision (its
 * sponsor's) denies without naming columns, so the sponsor's own columns are
 * asked for and intersected. The set shrinks at every step, so this ends; a
 * row is kept only once decide() allows its columns.
 */
import { decide, effectiveRoles, EMERGENCY } from '../engine/decide.ts';
import type { CompiledRule, PolicySnapshot } from '../engine/snapshot.ts';
import type { DatasetFacts, Decision, DecisionInput, PrincipalFacts } from '../engine/types.ts';

/** The action reach is about: reading a dataset. */
export const READ = 'dataset:read';

/** One (principal, dataset, purpose) the principal can read now, and how. */
export interface ReachRow {
  principalId: string;
  datasetId: string;
  purpose: string;
  /** Exactly the columns decide() grants for this purpose (dataset order). */
  columns: string[];
  /** The deciding rules (the allows that granted the columns; a service's and its sponsor's). */
  rules: string[];
  /** The roles held (by the principal, or its sponsor) that carry those rules. */
  roles: string[];
  /** Standing roles alone, or relied-on grants (break-glass among them for `emergency`). */
  basis: 'standing' | 'grant' | 'break-glass';
  grantIds: string[];
  /** The earliest expiry of the grants relied on (ms), or null for standing access. */
  until: number | null;
  obligations: Decision['obligations'];
}

/** The decision input for one question. */
function inputOf(principal: PrincipalFacts, dataset: DatasetFacts, purpose: string, columns: string[], now: number): DecisionInput {
  return { now, action: READ, purpose, columns, principal, dataset };
}

/** Columns of `from` that are in `granted`, in `from`'s order. */
function within(from: readonly string[], granted: readonly string[]): string[] {
  const set = new Set(granted);
  return from.filter((c) => set.has(c));
}

/**
 * The widest set of columns decide() allows for (principal, dataset,
 * purpose) and its allow, or undefined when it allows none.
 */
export function allowedColumns(principal: PrincipalFacts, dataset: DatasetFacts, purpose: string, snapshot: PolicySnapshot, now: number): { columns: string[]; decision: Decision } | undefined {
  let cols = dataset.columns.map((c) => c.name);
  // Each step drops at least one column; a dataset's columns bound the steps.
  while (cols.length) {
    const d = decide(inputOf(principal, dataset, purpose, cols, now), snapshot);
    if (d.effect === 'allow') return { columns: cols, decision: d };
    let next = within(cols, d.grantedColumns);
    if (!next.length && principal.kind === 'service' && principal.sponsor) {
      // The service may have been bounded by its sponsor: ask what the sponsor alone is granted.
      const s = decide(inputOf(principal.sponsor, dataset, purpose, cols, now), snapshot);
      next = s.effect === 'allow' ? [] : within(cols, s.grantedColumns);
    }
    if (!next.length || next.length === cols.length) return undefined;
    cols = next;
  }
  return undefined;
}

/** The roles a principal holds for the dataset that carry any of the deciding rules. */
function rolesFor(principal: PrincipalFacts, dataset: DatasetFacts, purpose: string, rules: ReadonlySet<CompiledRule>, snapshot: PolicySnapshot, now: number): string[] {
  const held = effectiveRoles(principal, { now, dataset }, snapshot, purpose === EMERGENCY ? 'only' : 'none');
  const out = new Set<string>();
  for (const r of rules) for (const role of r.roles) if (held.has(role)) out.add(role);
  return [...out];
}

/** Every row of one principal on one dataset (one per purpose with an allowed column). */
export function reachOn(principal: PrincipalFacts, dataset: DatasetFacts, snapshot: PolicySnapshot, now: number, onlyIdentifiers = false): ReachRow[] {
  const rows: ReachRow[] = [];
  const identifiers = new Set(dataset.columns.filter((c) => c.category).map((c) => c.name));
  if (onlyIdentifiers && !identifiers.size) return rows;
  for (const purpose of dataset.purposes) {
    const found = allowedColumns(principal, dataset, purpose, snapshot, now);
    if (!found) continue;
    if (onlyIdentifiers && !found.columns.some((c) => identifiers.has(c))) continue;
    const d = found.decision;
    const ids = new Set(d.rules);
    const deciding = new Set(snapshot.rules.filter((r) => ids.has(r.id)));
    const roles = new Set(rolesFor(principal, dataset, purpose, deciding, snapshot, now));
    if (principal.kind === 'service' && principal.sponsor) for (const r of rolesFor(principal.sponsor, dataset, purpose, deciding, snapshot, now)) roles.add(r);
    rows.push({
      principalId: principal.id,
      datasetId: dataset.id,
      purpose,
      columns: onlyIdentifiers ? found.columns.filter((c) => identifiers.has(c)) : found.columns,
      rules: d.rules,
      roles: [...roles].sort(),
      basis: d.breakGlass ? 'break-glass' : d.grantIds.length ? 'grant' : 'standing',
      grantIds: d.grantIds,
      until: d.grantsExpireAt,
      obligations: d.obligations,
    });
  }
  return rows;
}

/** What one principal can read now, over every dataset given. */
export function principalReach(principal: PrincipalFacts, datasets: readonly DatasetFacts[], snapshot: PolicySnapshot, now: number): ReachRow[] {
  return datasets.flatMap((d) => reachOn(principal, d, snapshot, now));
}

/** Who can read a dataset now, over every principal given (`onlyIdentifiers`: rows with an identifier column, listing only those). */
export function datasetReach(dataset: DatasetFacts, principals: readonly PrincipalFacts[], snapshot: PolicySnapshot, now: number, onlyIdentifiers = false): ReachRow[] {
  return principals.flatMap((p) => reachOn(p, dataset, snapshot, now, onlyIdentifiers));
}
