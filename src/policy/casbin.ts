/**
 * The casbin engine of record: builds a plain casbin enforcer from the same
 * compiled policy and facts, so the fast path can be checked against it
 * (test/engine/differential.test.ts) and compared in the benchmark.
 */
import { readFileSync } from 'node:fs';
import { newEnforcer, newModelFromString, type Enforcer } from 'casbin';
import { conditionContext, membershipGrants, type PolicySnapshot } from '../engine/snapshot.ts';
import type { DecisionInput, PrincipalFacts } from '../engine/types.ts';
import { POLICIES_DIR } from './loadDefaultRoles.ts';

/** The casbin model text shipped in policies/model.conf. */
export const MODEL_TEXT = readFileSync(`${POLICIES_DIR}model.conf`, 'utf8');

/** A casbin enforcer plus the per-request table its cond() reads. */
export interface CasbinReference {
  enforcer: Enforcer;
  /** Registers a request and returns the key to pass as r.ctx (cond() builds each rule's context from it). */
  withContext(input: DecisionInput): string;
}

/** `p` lines of a snapshot: role × action × classification × dataset × project × purpose. */
export function policyLines(snapshot: PolicySnapshot): string[][] {
  const lines: string[][] = [];
  const orStar = (s: ReadonlySet<string>) => (s.size ? [...s] : ['*']);
  for (const rule of snapshot.rules) {
    for (const role of rule.roles)
      for (const act of rule.actions)
        for (const cls of orStar(rule.classifications))
          for (const ds of orStar(rule.datasets))
            for (const proj of orStar(rule.projects))
              for (const pur of orStar(rule.purposes)) lines.push([role, act, cls, ds, proj, pur, rule.effect, rule.id]);
  }
  return lines;
}

/** `g` lines for a principal at a time: standing roles, grants in force, and inheritance. */
export function groupingLines(snapshot: PolicySnapshot, principals: readonly PrincipalFacts[], now: number): string[][] {
  const lines: string[][] = [];
  for (const p of principals) {
    for (const b of p.roles) lines.push([p.id, b.role, b.project ?? '*']);
    for (const g of p.grants) {
      if (g.notBefore <= now && now < g.expiresAt && g.datasetId === null) lines.push([p.id, g.role, g.project ?? '*']);
    }
  }
  for (const [role, closure] of snapshot.roleClosure) for (const parent of closure) if (parent !== role) lines.push([role, parent, '*']);
  return lines;
}

/** Builds a casbin enforcer holding the snapshot's rules and the principals' roles at `now`. */
export async function buildCasbinReference(snapshot: PolicySnapshot, principals: readonly PrincipalFacts[], now: number): Promise<CasbinReference> {
  const enforcer = await newEnforcer(newModelFromString(MODEL_TEXT));
  const contexts = new Map<string, DecisionInput>();
  const byId = new Map(snapshot.rules.map((r) => [r.id, r]));
  await enforcer.addFunction('cond', (ruleId: string, ctxKey: string) => {
    const rule = byId.get(ruleId);
    if (!rule?.condition) return true;
    try {
      // The same per-rule context as the fast path: grants add memberships only for rules of the roles they confer.
      const input = contexts.get(ctxKey)!;
      return rule.condition(conditionContext(input, membershipGrants(input, rule, snapshot, 'any'))) === true;
    } catch {
      return rule.effect === 'deny'; // same fail-closed rule as the fast path
    }
  });
  // Organisation-wide assignments and inheritance use domain "*", which matches every project.
  await enforcer.addNamedDomainMatchingFunc('g', (request: string, pattern: string) => pattern === '*' || pattern === request);
  const p = policyLines(snapshot);
  if (p.length) await enforcer.addPolicies(p);
  const g = groupingLines(snapshot, principals, now);
  if (g.length) await enforcer.addGroupingPolicies(g);
  let n = 0;
  return {
    enforcer,
    withContext(input) {
      const key = `c${n++}`;
      contexts.set(key, input);
      return key;
    },
  };
}

/** Plain casbin's effect for a request (rules only: no columns, BAA or sponsor logic). */
export function casbinEffect(ref: CasbinReference, input: DecisionInput): boolean {
  const ctx = ref.withContext(input);
  return ref.enforcer.enforceSync(input.principal.id, input.dataset.project, input.action, input.dataset.classification, input.dataset.id, input.purpose, ctx);
}
