/**
 * The rule document schema at its edges: durations in every unit, the
 * field count of an obligation at its cap, and the two things a deny rule
 * may not carry — each refusal with the message an author reads.
 */
import { describe, expect, it } from 'vitest';
import { Duration, durationSeconds, ObligationSpec, RuleSpec } from '../../src/policy/document.ts';

describe('durations', () => {
  it('counts seconds for each unit, over several digits', () => {
    expect(durationSeconds('45s')).toBe(45);
    expect(durationSeconds('30m')).toBe(30 * 60);
    expect(durationSeconds('8h')).toBe(8 * 3600);
    expect(durationSeconds('2d')).toBe(2 * 86_400);
    // Six digits, the longest the format allows.
    expect(durationSeconds('999999s')).toBe(999_999);
    expect(durationSeconds('1d')).toBe(86_400);
  });

  it('accepts one to six digits without a leading zero, and one unit', () => {
    for (const ok of ['1s', '999999d', '10m']) expect(Duration.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['0h', '01h', '1000000s', '1w', 'h', '1', '1.5h', ' 1h']) expect(Duration.safeParse(bad).success, bad).toBe(false);
    expect(Duration.safeParse('1w').error!.issues[0]!.message).toBe('a duration like 30m, 8h or 2d');
  });
});

describe('obligations', () => {
  // `type` plus n - 1 other fields.
  const withFields = (n: number) => ({ type: 'watermark', ...Object.fromEntries(Array.from({ length: n - 1 }, (_, i) => [`f${i}`, i])) });

  it('take up to 10 fields, type included; 11 are refused', () => {
    expect(ObligationSpec.safeParse(withFields(9)).success).toBe(true);
    expect(ObligationSpec.safeParse(withFields(10)).success).toBe(true);
    const over = ObligationSpec.safeParse(withFields(11));
    expect(over.success).toBe(false);
    expect(over.error!.issues.map((i) => i.message)).toEqual(['at most 10 fields']);
  });
});

describe('deny rules', () => {
  const deny = { id: 'd', effect: 'deny', roles: ['r'], actions: ['dataset:read'] };

  it('grant no columns and carry no obligations, each refused at its field', () => {
    expect(RuleSpec.safeParse(deny).success).toBe(true);
    // Custom issues: a caller tells the rule's own checks from zod's by the code.
    const issues = (over: object) => RuleSpec.safeParse({ ...deny, ...over }).error!.issues.map((i) => ({ code: i.code, path: i.path, message: i.message }));
    expect(issues({ columns: 'all' })).toEqual([{ code: 'custom', path: ['columns'], message: 'a deny rule grants no columns' }]);
    expect(issues({ obligations: [{ type: 'no-export' }] })).toEqual([{ code: 'custom', path: ['obligations'], message: 'a deny rule carries no obligations' }]);
  });

  it('the same fields are fine on an allow', () => {
    expect(RuleSpec.safeParse({ ...deny, effect: 'allow', columns: 'all', obligations: [{ type: 'no-export' }] }).success).toBe(true);
  });
});
