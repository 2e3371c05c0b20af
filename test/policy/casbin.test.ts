/**
 * The casbin engine of record, line by line: each rule expands into one `p`
 * line per role × action × classification × dataset × project × purpose
 * (`*` where the rule says nothing); standing roles, grants in force and
 * inheritance become `g` lines; project-scoped roles match only their
 * project; each registered request keeps its own context for cond().
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildCasbinReference, casbinEffect, groupingLines, policyLines } from '../../src/policy/casbin.ts';
import { compilePolicy, type RoleGraphEntry } from '../../src/policy/compile.ts';
import { dataset, grant, HOUR, NOW, principal, request, role } from '../engine/support.ts';

const ROLES: RoleGraphEntry[] = [
  { id: 'reader', inherits: [] },
  { id: 'writer', inherits: ['reader'] },
  { id: 'lead', inherits: ['writer'] },
];

const compiled = (rules: unknown[]) => compilePolicy({ documents: [{ name: 'a.yaml', text: stringify({ rules }) }], roles: ROLES });

describe('policyLines', () => {
  it('expands each rule over its values, with * for what it leaves open', () => {
    const s = compiled([
      { id: 'any', effect: 'allow', roles: ['reader'], actions: ['dataset:read'] },
      { id: 'scoped', effect: 'deny', roles: ['writer', 'lead'], actions: ['dataset:read'], resource: { datasets: ['d1', 'd2'], projects: ['p1'], classification: ['phi'] }, purposes: ['research'] },
    ]);
    expect(policyLines(s)).toEqual([
      ['reader', 'dataset:read', '*', '*', '*', '*', 'allow', 'any'],
      ['writer', 'dataset:read', 'phi', 'd1', 'p1', 'research', 'deny', 'scoped'],
      ['writer', 'dataset:read', 'phi', 'd2', 'p1', 'research', 'deny', 'scoped'],
      ['lead', 'dataset:read', 'phi', 'd1', 'p1', 'research', 'deny', 'scoped'],
      ['lead', 'dataset:read', 'phi', 'd2', 'p1', 'research', 'deny', 'scoped'],
    ]);
  });

  it('a policy without rules has no lines', () => {
    expect(policyLines(compiled([]))).toEqual([]);
  });
});

describe('groupingLines', () => {
  it('standing roles, grants in force at `now` (from not_before, until expires_at), and inheritance', () => {
    const s = compiled([]);
    const u = principal('u', {
      roles: [role('reader'), role('writer', 'p1')],
      grants: [
        grant('org', { role: 'lead' }),
        grant('proj', { role: 'writer', project: 'p2' }),
        grant('starts-now', { role: 'reader', project: 'p3', notBefore: NOW }),
        grant('ends-now', { role: 'lead', project: 'p4', expiresAt: NOW }),
        grant('later', { role: 'lead', project: 'p5', notBefore: NOW + 1 }),
        grant('over', { role: 'lead', project: 'p6', notBefore: NOW - 2 * HOUR, expiresAt: NOW - HOUR }),
        // A grant for one dataset cannot be said in a g line (no dataset domain): left out.
        grant('one-dataset', { role: 'lead', datasetId: 'd1' }),
      ],
    });
    const v = principal('v', { roles: [role('lead', 'p9')] });
    expect(groupingLines(s, [u, v], NOW)).toEqual([
      ['u', 'reader', '*'],
      ['u', 'writer', 'p1'],
      ['u', 'lead', '*'],
      ['u', 'writer', 'p2'],
      ['u', 'reader', 'p3'],
      ['v', 'lead', 'p9'],
      // Inheritance, organisation-wide; a role is not its own parent.
      ['writer', 'reader', '*'],
      ['lead', 'writer', '*'],
      ['lead', 'reader', '*'],
    ]);
  });

  it('without principals or inheritance there are no lines', () => {
    const flat = compilePolicy({ documents: [], roles: [{ id: 'solo', inherits: [] }] });
    expect(groupingLines(flat, [], NOW)).toEqual([]);
  });
});

describe('buildCasbinReference and casbinEffect', () => {
  const rules = [
    { id: 'read', effect: 'allow', roles: ['reader'], actions: ['dataset:read'] },
    { id: 'phi-never', effect: 'deny', roles: ['lead'], actions: ['dataset:read'], resource: { classification: ['phi'] } },
  ];

  it('a role held in one project applies there only; an organisation-wide role everywhere', async () => {
    const s = compiled(rules);
    const inP1 = principal('in-p1', { roles: [role('reader', 'p1')] });
    const everywhere = principal('org', { roles: [role('writer')] });
    const ref = await buildCasbinReference(s, [inP1, everywhere], NOW);
    expect(casbinEffect(ref, request(inP1, dataset('d', { project: 'p1' })))).toBe(true);
    expect(casbinEffect(ref, request(inP1, dataset('d', { project: 'p2' })))).toBe(false);
    expect(casbinEffect(ref, request(everywhere, dataset('d', { project: 'p2' })))).toBe(true);
  });

  it('inherited rules apply and a deny overrides', async () => {
    const s = compiled(rules);
    const lead = principal('lead', { roles: [role('lead')] });
    const ref = await buildCasbinReference(s, [lead], NOW);
    expect(casbinEffect(ref, request(lead, dataset('d')))).toBe(true);
    expect(casbinEffect(ref, request(lead, dataset('d', { classification: 'phi' })))).toBe(false);
  });

  it('an empty policy allows nothing', async () => {
    const s = compiled([]);
    const p = principal('p', { roles: [role('reader')] });
    expect(casbinEffect(await buildCasbinReference(s, [p], NOW), request(p, dataset('d')))).toBe(false);
  });

  it('each registered request keeps its own context: a key given earlier still decides its own request', async () => {
    const s = compiled([{ id: 'own', effect: 'allow', roles: ['reader'], actions: ['dataset:read'], when: 'resource.project in principal.projects' }]);
    const member = principal('m', { roles: [role('reader')], projects: ['p0'] });
    const stranger = principal('s', { roles: [role('reader')], projects: [] });
    const ref = await buildCasbinReference(s, [member, stranger], NOW);
    const d = dataset('d');
    const first = ref.withContext(request(member, d));
    const second = ref.withContext(request(stranger, d));
    expect(first).not.toBe(second);
    const enforce = (who: string, key: string) => ref.enforcer.enforceSync(who, 'p0', 'dataset:read', 'deidentified', 'd', 'model-training', key);
    expect(enforce('m', first)).toBe(true);
    expect(enforce('s', second)).toBe(false);
  });
});
