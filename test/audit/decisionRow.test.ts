/**
 * The decision log row written as text is the very JSON value of the row
 * object, whatever the record holds (sponsor or not, token or not, context,
 * text that needs escaping, missing request id).
 */
import { describe, expect, it } from 'vitest';
import { decisionRow, decisionRowText } from '../../src/audit/postgres/decisionLogWriter.ts';
import type { DecisionRecord } from '../../src/audit/decisionLog.ts';
import type { PrincipalFacts } from '../../src/engine/types.ts';
import { dataset, service, sponsor } from '../support/decisionFacts.ts';


function record(o: Partial<DecisionRecord> & { principal: PrincipalFacts; now?: number; context?: Record<string, unknown> }): DecisionRecord {
  const at = new Date(Date.UTC(2026, 0, 15, 12, 0, 0, 123));
  return {
    id: '0190a0f0-0000-7000-8000-0000000000ff',
    at,
    requestId: o.requestId,
    callerId: o.callerId ?? null,
    input: { now: o.now ?? at.getTime(), action: 'dataset:read', purpose: 'research', columns: ['icd10', 'x\u2028"\\'], principal: o.principal, dataset, context: o.context },
    decision: {
      effect: 'allow',
      rules: ['r1', 'r2'],
      reasons: [],
      grantedColumns: ['icd10'],
      deniedColumns: [],
      obligations: [{ type: 'dp', epsilon: 0.5 }, { type: 'no-export' }],
      grantIds: ['g1'],
      grantsExpireAt: 10,
      breakGlass: true,
      policyVersion: 'v1',
    },
    latencyUs: 123.456,
    token: o.token,
    release: o.release ?? true,
    ...(o.source === undefined ? {} : { source: o.source }),
  };
}

describe('decision log row text', () => {
  const cases: [string, DecisionRecord][] = [
    ['a person, no request id', record({ principal: sponsor })],
    ['a service with a sponsor, context and caller', record({ principal: service, requestId: 'req-1234', callerId: service.id, context: { a: 'é\u0000"', b: 2, c: true } })],
    ['a time apart from the record time', record({ principal: sponsor, now: 5 })],
    ["an administrator's what-if", record({ principal: sponsor, callerId: sponsor.id, release: false })],
    ['a caller address', record({ principal: service, callerId: service.id, source: '2001:db8::1' })],
    ['a token', record({ principal: service, token: { jti: 'j1', expiresAt: new Date(1_800_000_000_000), job: { name: 'train', n: 1, skip: undefined } } })],
  ];
  for (const [name, r] of cases) {
    it(name, () => {
      const text = decisionRowText(r);
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(decisionRow(r))));
      // Twice: the memoised fragments give the same text.
      expect(decisionRowText(r)).toBe(text);
    });
  }
});
