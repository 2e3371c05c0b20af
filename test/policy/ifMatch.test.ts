/**
 * The precondition of policy edits (src/policy/ifMatch.ts): which If-Match
 * headers name the current version, and the error each other one gets —
 * 409 conflict for a stale tag; for a missing one 409 on an edit and 428
 * precondition_required on a rollback, each naming the current ETag.
 */
import { describe, expect, it } from 'vitest';
import { ConflictError, PreconditionRequiredError } from '../../src/errors.ts';
import { ifMatchFailure, ifMatchForAudit, preconditionError } from '../../src/policy/ifMatch.ts';
import { policyEtag } from '../../src/policy/store.ts';

const current = { version: 7, digest: 'ab'.repeat(32) };
const etag = policyEtag(current);

describe('ifMatchFailure', () => {
  it('matches the exact ETag, alone or anywhere in a list, spaces around entries ignored', () => {
    expect(etag).toBe(`"7-${'ab'.repeat(8)}"`);
    expect(ifMatchFailure(etag, etag)).toBeUndefined();
    expect(ifMatchFailure(`"6-0000000000000000", ${etag}`, etag)).toBeUndefined();
    expect(ifMatchFailure(`  ${etag}  ,"x"`, etag)).toBeUndefined();
  });

  it('a missing or empty header is missing', () => {
    expect(ifMatchFailure(undefined, etag)).toBe('missing');
    expect(ifMatchFailure('', etag)).toBe('missing');
    expect(ifMatchFailure('  ', etag)).toBe('missing');
  });

  it('anything else is stale: another version, the weak form of the tag, the tag unquoted or as a prefix, and *', () => {
    for (const h of ['"6-0000000000000000"', `W/${etag}`, etag.slice(1, -1), `${etag.slice(0, -1)}0"`, '*', `"6-x", W/${etag}`]) expect(ifMatchFailure(h, etag), h).toBe('stale');
  });
});

describe('preconditionError', () => {
  it('is undefined when If-Match names the current version', () => {
    expect(preconditionError({ header: etag, current, missing: 'required', what: 'rollback' })).toBeUndefined();
  });

  it('a stale tag is a conflict naming the current ETag, on an edit and a rollback alike', () => {
    for (const o of [{ missing: 'conflict', what: 'edit' }, { missing: 'required', what: 'rollback' }] as const) {
      const err = preconditionError({ header: '"1-0000000000000000"', current, ...o });
      expect(err).toBeInstanceOf(ConflictError);
      expect(err!.code).toBe('conflict');
      expect(err!.message).toBe(`The policy has changed since you read it (current: ${etag}): reload it and reapply your edit.`);
    }
  });

  it('a missing header is a conflict on an edit and precondition_required on a rollback, each naming the current ETag', () => {
    const edit = preconditionError({ header: undefined, current, missing: 'conflict', what: 'edit' });
    expect(edit).toBeInstanceOf(ConflictError);
    expect(edit!.message).toBe(`An edit must send If-Match with the ETag of the version it is based on (current: ${etag}).`);
    const rollback = preconditionError({ header: undefined, current, missing: 'required', what: 'rollback' });
    expect(rollback).toBeInstanceOf(PreconditionRequiredError);
    expect(rollback!.code).toBe('precondition_required');
    expect(rollback!.message).toBe(`A rollback must send If-Match with the ETag of the version it replaces (current: ${etag}).`);
  });
});

describe('ifMatchForAudit', () => {
  it('keeps at most 100 characters, and null for no header', () => {
    expect(ifMatchForAudit(undefined)).toBeNull();
    expect(ifMatchForAudit(etag)).toBe(etag);
    expect(ifMatchForAudit('x'.repeat(300))).toBe('x'.repeat(100));
  });
});
