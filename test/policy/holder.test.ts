/**
 * The policy in force across reloads (a policy reload in progress, or a failed one: decisions still use the
 * last good policy).
 * Unlike casbin's loadPolicy(), which clears the rules before the adapter
 * returns, the holder keeps serving the last good snapshot — deny rules
 * included — while a reload runs and after one fails, and swaps only a
 * complete snapshot in. Concurrent reloads share one load.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CatalogStore } from '../../src/catalog/store.ts';
import { decide } from '../../src/engine/decide.ts';
import type { PolicySnapshot } from '../../src/engine/snapshot.ts';
import { compilePolicy, PolicyInvalidError, type RoleGraphEntry } from '../../src/policy/compile.ts';
import { PolicyHolder } from '../../src/policy/holder.ts';
import { loadPolicy } from '../../src/policy/loadPolicy.ts';
import { columns, dataset, defaultDocuments, defaultRoles, principal, request, role } from '../engine/support.ts';
import { deferred } from '../support/deferred.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

const ROLES = defaultRoles();

/** A PHI dataset of project p0 and people who ask for it. */
const notes = dataset('notes', { project: 'p0', classification: 'phi', columns: columns('patient_name:names', 'age_group', 'diagnosis') });
const scientist = principal('sci', { roles: [role('data-scientist', 'p0')], projects: ['p0'] });
/** Holds an allowing role and a denying one: only the deny rule stands between them and PHI. */
const sysadminScientist = principal('ops', { roles: [role('data-scientist', 'p0'), role('system-administrator')], projects: ['p0'] });
const ask = (p = scientist) => request(p, notes, { columns: ['age_group', 'diagnosis'] });

/** v1: the shipped policy. */
const V1 = compilePolicy({ documents: defaultDocuments(), roles: ROLES });
/** v2: the shipped policy plus a freeze on PHI for data scientists. */
const FREEZE = `rules:
  - id: freeze-phi
    effect: deny
    roles: [data-scientist]
    actions: [dataset:read]
    resource: { classification: [phi] }
`;
const V2 = compilePolicy({ documents: [...defaultDocuments(), { name: 'freeze.yaml', text: FREEZE }], roles: ROLES });
const V3 = compilePolicy({ documents: defaultDocuments(), roles: ROLES, version: 'v3' });

/** What a decision made now looks like. */
function decisionNow(holder: PolicyHolder, p = scientist) {
  const d = decide(ask(p), holder.current());
  return { effect: d.effect, rules: d.rules, policyVersion: d.policyVersion };
}
const V1_ALLOW = { effect: 'allow', rules: ['scientist-own-project-phi'], policyVersion: V1.version };
const V1_SYSADMIN_DENY = { effect: 'deny', rules: ['sysadmin-never-reads-phi'], policyVersion: V1.version };
const V2_DENY = { effect: 'deny', rules: ['freeze-phi'], policyVersion: V2.version };

describe('fixtures', () => {
  it('v1 and v2 differ observably', () => {
    expect(V1.version).not.toBe(V2.version);
    expect(decide(ask(), V1)).toMatchObject({ effect: 'allow' });
    expect(decide(ask(), V2)).toMatchObject({ effect: 'deny', rules: ['freeze-phi'] });
  });
});

describe('PolicyHolder', () => {
  it('serves the initial snapshot until a reload completes', () => {
    const load = vi.fn(() => Promise.resolve(V2));
    const holder = new PolicyHolder(V1, load);
    expect(holder.current()).toBe(V1);
    expect(decisionNow(holder)).toEqual(V1_ALLOW);
    expect(decisionNow(holder, sysadminScientist)).toEqual(V1_SYSADMIN_DENY);
    expect(load).not.toHaveBeenCalled();
  });

  it('a successful reload swaps in the complete new snapshot at once', async () => {
    const holder = new PolicyHolder(V1, () => Promise.resolve(V2));
    const result = await holder.reload();
    expect(result).toEqual({ ok: true, version: V2.version });
    expect(holder.current()).toBe(V2);
    expect(Object.isFrozen(holder.current())).toBe(true);
    expect(decisionNow(holder)).toEqual(V2_DENY);
  });

  it('during a slow reload, decisions use the last good snapshot — deny rules included — then the new one', async () => {
    const gate = deferred<PolicySnapshot>();
    const holder = new PolicyHolder(V1, () => gate.promise);
    const pending = holder.reload();
    for (let i = 0; i < 5; i++) {
      await turn();
      // Nothing cleared, nothing half-loaded: the deny still beats the allow.
      expect(holder.current()).toBe(V1);
      expect(decisionNow(holder)).toEqual(V1_ALLOW);
      expect(decisionNow(holder, sysadminScientist)).toEqual(V1_SYSADMIN_DENY);
    }
    gate.resolve(V2);
    expect(await pending).toEqual({ ok: true, version: V2.version });
    expect(holder.current()).toBe(V2);
    expect(decisionNow(holder)).toEqual(V2_DENY);
  });

  it('a reload that fails keeps the last good snapshot, during and after, and reports the error', async () => {
    const onError = vi.fn();
    const gate = deferred<PolicySnapshot>();
    const holder = new PolicyHolder(V1, () => gate.promise, onError);
    const pending = holder.reload();
    await turn();
    expect(decisionNow(holder, sysadminScientist)).toEqual(V1_SYSADMIN_DENY);

    // A real compile failure: a rule naming a role that does not exist.
    let broken: unknown;
    try {
      compilePolicy({ documents: [{ name: 'typo.yaml', text: 'rules:\n  - { id: r, effect: allow, roles: [data-scientits], actions: [dataset:read] }\n' }], roles: ROLES });
    } catch (err) {
      broken = err;
    }
    expect(broken).toBeInstanceOf(PolicyInvalidError);
    gate.reject(broken);

    const result = await pending;
    expect(result).toMatchObject({ ok: false, version: V1.version });
    expect((result as { error: unknown }).error).toBe(broken);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError).toHaveBeenCalledWith(broken);
    expect(holder.current()).toBe(V1);
    expect(decisionNow(holder)).toEqual(V1_ALLOW);
    expect(decisionNow(holder, sysadminScientist)).toEqual(V1_SYSADMIN_DENY);
  });

  it('after a good reload then a failed one, the newer good version stays in force', async () => {
    const onError = vi.fn();
    const loads: (() => Promise<PolicySnapshot>)[] = [() => Promise.resolve(V2), () => Promise.reject(new Error('disk on fire'))];
    const holder = new PolicyHolder(V1, () => loads.shift()!(), onError);
    expect(await holder.reload()).toEqual({ ok: true, version: V2.version });
    const failed = await holder.reload();
    expect(failed).toMatchObject({ ok: false, version: V2.version });
    expect(onError).toHaveBeenCalledTimes(1);
    expect(holder.current()).toBe(V2);
    expect(decisionNow(holder)).toEqual(V2_DENY);
  });

  it('calls during a running reload share ONE follow-up load, so a change made meanwhile is never missed', async () => {
    const gate = deferred<PolicySnapshot>();
    const load = vi.fn(() => gate.promise);
    const holder = new PolicyHolder(V1, load);
    const a = holder.reload();
    const b = holder.reload();
    const c = holder.reload();
    expect(load).toHaveBeenCalledTimes(1);
    // The running load read the old state; the follow-up must see the change.
    load.mockImplementation(() => Promise.resolve(V3));
    gate.resolve(V2);
    expect(await a).toEqual({ ok: true, version: V2.version });
    expect(await b).toEqual({ ok: true, version: V3.version });
    expect(await c).toEqual({ ok: true, version: V3.version });
    expect(load).toHaveBeenCalledTimes(2);
    expect(holder.current()).toBe(V3);

    load.mockImplementation(() => Promise.resolve(V1));
    expect(await holder.reload()).toEqual({ ok: true, version: V1.version });
    expect(load).toHaveBeenCalledTimes(3);
    expect(holder.current()).toBe(V1);
  });

  it('a failed reload reports its error, keeps the last good snapshot, and a later reload can still succeed', async () => {
    const onError = vi.fn();
    const gate = deferred<PolicySnapshot>();
    const load = vi.fn(() => gate.promise);
    const holder = new PolicyHolder(V1, load, onError);
    const first = holder.reload();
    gate.reject(new Error('bad'));
    expect(await first).toMatchObject({ ok: false, version: V1.version });
    expect(load).toHaveBeenCalledTimes(1);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(holder.current()).toBe(V1);
    load.mockImplementation(() => Promise.resolve(V2));
    expect(await holder.reload()).toEqual({ ok: true, version: V2.version });
    expect(holder.current()).toBe(V2);
  });

  it('a load that throws synchronously is a failed reload, not an exception', async () => {
    const onError = vi.fn();
    const holder = new PolicyHolder(
      V1,
      () => {
        throw new Error('sync');
      },
      onError,
    );
    expect(await holder.reload()).toMatchObject({ ok: false, version: V1.version });
    expect(onError).toHaveBeenCalledTimes(1);
  });
});

describe('through loadPolicy, with a rules folder on disk', () => {
  let dir: string;
  /** The catalog's role graph, as loadPolicy reads it (one page). */
  const catalog = {
    listRoles: async () => ({ items: ROLES.map((r: RoleGraphEntry) => ({ id: r.id, inherits: [...r.inherits] })), next_cursor: null }),
  } as unknown as CatalogStore;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'custos-holder-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = (name: string, text: string) => writeFile(path.join(dir, name), text);
  const GOOD = defaultDocuments()
    .map((d) => d.text)
    .join('\n');

  it('a broken file fails the reload with issues naming the file and rule; the last good policy keeps deciding', async () => {
    await write('default.yaml', GOOD);
    const onError = vi.fn();
    const initial = await loadPolicy(catalog, dir);
    const holder = new PolicyHolder(initial, () => loadPolicy(catalog, dir), onError);
    expect(decisionNow(holder)).toEqual({ ...V1_ALLOW, policyVersion: initial.version });

    // A YAML syntax error: the file is named.
    await write('zz-broken.yaml', 'rules:\n  - id: oops\n    effect: [deny\n');
    const syntax = await holder.reload();
    expect(syntax.ok).toBe(false);
    const syntaxError = (syntax as { error: unknown }).error;
    expect(syntaxError).toBeInstanceOf(PolicyInvalidError);
    expect((syntaxError as PolicyInvalidError).issues.some((i) => i.document === 'zz-broken.yaml' && /YAML/.test(i.message))).toBe(true);
    expect(holder.current()).toBe(initial);
    expect(decisionNow(holder)).toEqual({ ...V1_ALLOW, policyVersion: initial.version });
    expect(decisionNow(holder, sysadminScientist)).toMatchObject({ effect: 'deny', rules: ['sysadmin-never-reads-phi'] });

    // A rule naming an unknown role: the file, the rule and the field are named.
    await write(
      'zz-broken.yaml',
      'rules:\n  - id: freeze-phi\n    effect: deny\n    roles: [data-scientits]\n    actions: [dataset:read]\n',
    );
    const unknownRole = await holder.reload();
    expect(unknownRole.ok).toBe(false);
    const err = (unknownRole as { error: unknown }).error as PolicyInvalidError;
    expect(err).toBeInstanceOf(PolicyInvalidError);
    expect(err.issues).toContainEqual(expect.objectContaining({ document: 'zz-broken.yaml', rule: 'freeze-phi', field: 'roles.0' }));
    expect(err.issues.find((i) => i.rule === 'freeze-phi')!.message).toContain('data-scientits');
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onError).toHaveBeenLastCalledWith(err);
    expect(holder.current()).toBe(initial);
    expect(decisionNow(holder)).toEqual({ ...V1_ALLOW, policyVersion: initial.version });

    // Fixed: the new policy (with its deny) takes over, with a new version.
    await write('zz-broken.yaml', FREEZE);
    const fixed = await holder.reload();
    expect(fixed.ok).toBe(true);
    expect(fixed.version).not.toBe(initial.version);
    expect(decisionNow(holder)).toEqual({ effect: 'deny', rules: ['freeze-phi'], policyVersion: fixed.version });
  });

  it('a deny rule made invalid does not take its protection away mid-flight', async () => {
    // The deny lives in its own file; breaking that file must not leave the allow standing alone.
    await write('default.yaml', GOOD);
    await write('zz-broken.yaml', FREEZE);
    const initial = await loadPolicy(catalog, dir);
    const holder = new PolicyHolder(initial, () => loadPolicy(catalog, dir));
    expect(decisionNow(holder)).toMatchObject({ effect: 'deny', rules: ['freeze-phi'] });
    await write('zz-broken.yaml', FREEZE.replace('effect: deny', 'effect: deny\n    colour: red'));
    const r = await holder.reload();
    expect(r.ok).toBe(false);
    expect(((r as { error: unknown }).error as PolicyInvalidError).issues).toContainEqual(expect.objectContaining({ document: 'zz-broken.yaml', rule: 'freeze-phi' }));
    expect(decisionNow(holder)).toEqual({ effect: 'deny', rules: ['freeze-phi'], policyVersion: initial.version });
  });
});
