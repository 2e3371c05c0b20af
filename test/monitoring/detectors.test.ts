/**
 * Every detector, pure (records in, alerts out), with an injected clock:
 * each fires on the record that completes its pattern (well within 5 s of
 * it) and stays quiet on a near-miss control pattern. Detection as a whole:
 * repeats share a dedupe key, and a takeover's replay rebuilds windows
 * without raising and without counting records already used as evidence.
 */
import { describe, expect, it } from 'vitest';
import { Detection } from '../../src/monitoring/detection.ts';
import type { AlertRaised, RecordSeen } from '../../src/monitoring/records.ts';
import { policyWith, Recorder } from './records.ts';

const FIVE_SECONDS = 5000;

/** Feeds records one at a time, as the pipeline would across passes; the alerts with the record that raised each. */
function run(detection: Detection, records: RecordSeen[]): { alert: AlertRaised; by: RecordSeen }[] {
  const out: { alert: AlertRaised; by: RecordSeen }[] = [];
  for (const r of records) for (const alert of detection.observe([r])) out.push({ alert, by: r });
  return out;
}

/** Asserts exactly one alert of `detector`, raised by the last record of the pattern, within 5 s of it. */
function firesOnce(got: { alert: AlertRaised; by: RecordSeen }[], detector: string, last: RecordSeen): AlertRaised {
  const mine = got.filter((g) => g.alert.detector === detector);
  expect(mine).toHaveLength(1);
  expect(mine[0]!.by.id).toBe(last.id);
  expect(mine[0]!.alert.at - last.at).toBeLessThanOrEqual(FIVE_SECONDS);
  return mine[0]!.alert;
}

const quiet = (got: { alert: AlertRaised }[], detector: string) => expect(got.filter((g) => g.alert.detector === detector)).toEqual([]);

describe('deny bursts (≥ 20 denies in 60 s)', () => {
  const policy = policyWith();
  it('fires on the 20th deny within the window, with the 20 as evidence, per principal and per calling service', () => {
    const rec = new Recorder();
    const denies = Array.from({ length: 20 }, () => {
      rec.clock.advance(2000);
      return rec.decision({ effect: 'deny' });
    });
    const got = run(new Detection(policy), denies);
    const byPrincipal = got.filter((g) => g.alert.dedupeKey === 'deny_burst:principal:p-1');
    const byCaller = got.filter((g) => g.alert.dedupeKey === 'deny_burst:caller:pep-1');
    expect(byPrincipal).toHaveLength(1);
    expect(byCaller).toHaveLength(1);
    expect(byPrincipal[0]!.by.id).toBe(denies[19]!.id);
    expect(byPrincipal[0]!.alert.evidence.map((e) => e.id)).toEqual(denies.map((d) => d.id));
    expect(byPrincipal[0]!.alert).toMatchObject({ severity: 'medium', subject: 'p-1' });
  });

  it('stays quiet on 19 denies, and on a 20th one just outside the window', () => {
    const rec = new Recorder();
    const first = rec.decision({ effect: 'deny' });
    const rest = Array.from({ length: 18 }, () => {
      rec.clock.advance(1000);
      return rec.decision({ effect: 'deny' });
    });
    const d = new Detection(policy);
    quiet(run(d, [first, ...rest]), 'deny_burst');
    // 60 s after the first: the first has left the window, 19 remain.
    rec.clock.set(first.at + 60_000);
    quiet(run(d, [rec.decision({ effect: 'deny' })]), 'deny_burst');
    // Allows never count.
    quiet(run(d, [rec.decision({ effect: 'allow' })]), 'deny_burst');
  });

  it('a sustained burst is one alert per 20 denies, all under one dedupe key', () => {
    const rec = new Recorder();
    const got = run(
      new Detection(policy),
      Array.from({ length: 45 }, () => {
        rec.clock.advance(500);
        return rec.decision({ effect: 'deny', callerId: null });
      }),
    );
    expect(got.map((g) => g.alert.dedupeKey)).toEqual(['deny_burst:principal:p-1', 'deny_burst:principal:p-1']);
  });
});

describe('PHI outside working hours (Mon–Fri 07:00–19:00 America/New_York)', () => {
  const policy = policyWith();
  // 1 June 2026 is a Monday; New York is on EDT (UTC−4).
  const at = (h: number, m: number, day = 1, month = 5) => Date.UTC(2026, month, day, h, m);

  it('fires on an allowed PHI release at 19:00 local, at 06:59, and on a Saturday', () => {
    for (const t of [at(23, 0), at(10, 59), at(16, 0, 6)]) {
      const rec = new Recorder(t);
      const r = rec.decision();
      const a = firesOnce(run(new Detection(policy), [r]), 'phi_after_hours', r);
      expect(a).toMatchObject({ severity: 'high', subject: 'p-1', dedupeKey: 'phi_after_hours:p-1' });
    }
  });

  it('follows daylight saving time: 19:00 local in January is 00:00 UTC', () => {
    const rec = new Recorder(Date.UTC(2026, 0, 6, 0, 0));
    const r = rec.decision();
    firesOnce(run(new Detection(policy), [r]), 'phi_after_hours', r);
    quiet(run(new Detection(policy), [new Recorder(Date.UTC(2026, 0, 5, 23, 59)).decision()]), 'phi_after_hours');
  });

  it('fires on identifier columns granted from a de-identified dataset', () => {
    const r = new Recorder(at(23, 30)).decision({ classification: 'deidentified', grantedIdentifiers: ['zip'] });
    firesOnce(run(new Detection(policy), [r]), 'phi_after_hours', r);
  });

  it('stays quiet one minute inside the hours (18:59 and 07:00), on de-identified data, on denies and on what-ifs', () => {
    for (const r of [
      new Recorder(at(22, 59)).decision(),
      new Recorder(at(11, 0)).decision(),
      new Recorder(at(23, 30)).decision({ classification: 'deidentified' }),
      new Recorder(at(23, 30)).decision({ effect: 'deny' }),
      new Recorder(at(23, 30)).decision({ release: false }),
    ]) {
      quiet(run(new Detection(policy), [r]), 'phi_after_hours');
    }
  });
});

describe('volume anomalies (EWMA per principal, z ≥ 4, cold start 12 intervals)', () => {
  const policy = policyWith();
  const INTERVAL = 300_000;

  /** `n` intervals of 4–6 decisions each, from the start of an interval. */
  function history(rec: Recorder, n: number): RecordSeen[] {
    const out: RecordSeen[] = [];
    const start = Math.ceil(rec.clock.now().getTime() / INTERVAL) * INTERVAL;
    for (let i = 0; i < n; i++) {
      rec.clock.set(start + i * INTERVAL + 1000);
      for (let k = 0; k < 4 + (i % 3); k++) {
        out.push(rec.decision());
        rec.clock.advance(10_000);
      }
    }
    rec.clock.set(start + n * INTERVAL + 1000);
    return out;
  }

  const burst = (rec: Recorder, n: number) =>
    Array.from({ length: n }, () => {
      rec.clock.advance(100);
      return rec.decision();
    });

  it('fires once in an interval far above the baseline, on the decision that crosses it', () => {
    const rec = new Recorder();
    const d = new Detection(policy);
    // 12 intervals of history (the burst's interval closes the 12th).
    quiet(run(d, history(rec, 12)), 'volume_anomaly');
    const b = burst(rec, 40);
    const got = run(d, b);
    // mean ≈ 5, sd < 1 → limit 5 + 4 × 1 = 9, but never below min_count (20): the 20th decision crosses.
    const a = firesOnce(got, 'volume_anomaly', b[19]!);
    expect(a.details).toMatchObject({ count: 20, intervals: 12 });
    expect(a.evidence).toHaveLength(20);
  });

  it('stays quiet with K−1 intervals of history (cold start), and on an ordinary interval', () => {
    const rec = new Recorder();
    const d = new Detection(policy);
    quiet(run(d, [...history(rec, 11), ...burst(rec, 40)]), 'volume_anomaly');
    const warm = new Recorder();
    const w = new Detection(policy);
    quiet(run(w, [...history(warm, 13), ...burst(warm, 6)]), 'volume_anomaly');
  });

  it('stays quiet below min_count even far above a low baseline', () => {
    const rec = new Recorder();
    const d = new Detection(policyWith({ volume_anomaly: { min_count: 50 } }));
    quiet(run(d, [...history(rec, 13), ...burst(rec, 49)]), 'volume_anomaly');
  });
});

describe('first access of a service to a dataset', () => {
  const policy = policyWith();
  it('fires on the first allowed release of a (service, dataset) pair', () => {
    const rec = new Recorder();
    const r = rec.decision({ principalId: 'job-1', principalKind: 'service' });
    const a = firesOnce(run(new Detection(policy), [r]), 'first_access', r);
    expect(a).toMatchObject({ severity: 'low', subject: 'job-1', dedupeKey: 'first_access:job-1:notes' });
  });

  it('stays quiet on the second access, on denies, what-ifs and people; a persisted pair is not first any more', () => {
    const rec = new Recorder();
    const d = new Detection(policy);
    run(d, [rec.decision({ principalId: 'job-1', principalKind: 'service' })]);
    quiet(
      run(d, [
        rec.decision({ principalId: 'job-1', principalKind: 'service' }),
        rec.decision({ principalId: 'job-2', principalKind: 'service', effect: 'deny' }),
        rec.decision({ principalId: 'job-2', principalKind: 'service', release: false }),
        rec.decision({ principalId: 'person', principalKind: 'user' }),
      ]),
      'first_access',
    );
    const restarted = new Detection(policy);
    restarted.load({ seen: [{ kind: 'first_access', subject: 'job-1', value: 'notes', at: 0, recordId: 'x' }], baselines: new Map() });
    quiet(run(restarted, [rec.decision({ principalId: 'job-1', principalKind: 'service' })]), 'first_access');
    // And what it remembers is handed to the commit.
    expect(d.drain().seen.filter((s) => s.kind === 'first_access').map((s) => [s.subject, s.value])).toEqual([['job-1', 'notes']]);
  });
});

describe('a service from a new source address', () => {
  const policy = policyWith();
  it('learns the first address quietly and fires on the next new one', () => {
    const rec = new Recorder();
    const d = new Detection(policy);
    quiet(run(d, [rec.decision({ source: '10.0.0.1' }), rec.decision({ source: '10.0.0.1' })]), 'new_source');
    const r = rec.decision({ source: '203.0.113.9' });
    const a = firesOnce(run(d, [r]), 'new_source', r);
    expect(a).toMatchObject({ subject: 'pep-1', dedupeKey: 'new_source:pep-1:203.0.113.9', details: { source: '203.0.113.9', known: ['10.0.0.1'] } });
  });

  it('stays quiet on known addresses (also after a restart), unknown addresses and what-ifs', () => {
    const rec = new Recorder();
    const d = new Detection(policy);
    d.load({ seen: [{ kind: 'source', subject: 'pep-1', value: '10.0.0.1', at: 0, recordId: 'x' }, { kind: 'source', subject: 'pep-1', value: '10.0.0.2', at: 0, recordId: 'y' }], baselines: new Map() });
    quiet(run(d, [rec.decision({ source: '10.0.0.2' }), rec.decision({ source: null }), rec.decision({ source: '10.9.9.9', release: false })]), 'new_source');
  });
});

describe('single-event detectors', () => {
  const policy = policyWith();
  const cases: [string, { type: string; outcome?: 'success' | 'failure' | 'info'; details?: Record<string, unknown> }, { type: string; outcome?: 'success' | 'failure' | 'info' }][] = [
    ['break_glass', { type: 'break_glass.activated', outcome: 'success', details: { grant_id: 'g-1' } }, { type: 'break_glass.activated', outcome: 'failure' }],
    ['webauthn_counter', { type: 'webauthn.counter_anomaly', details: { factor_id: 'f-1' } }, { type: 'auth.webauthn.login' }],
    ['chain_verification', { type: 'audit.verified', outcome: 'failure' }, { type: 'audit.verified', outcome: 'success' }],
    ['chain_verification', { type: 'audit.witness_failed' }, { type: 'audit.witness_recovered', outcome: 'success' }],
  ];
  for (const [detector, hit, miss] of cases) {
    it(`${detector}: fires on ${hit.type} (${hit.outcome ?? 'failure'}), quiet on ${miss.type} (${miss.outcome ?? 'failure'})`, () => {
      const rec = new Recorder();
      const r = rec.event({ subjectId: 'u-1', actorId: 'u-1', ...hit });
      const a = firesOnce(run(new Detection(policy), [r]), detector, r);
      expect(a.severity).toBe('critical');
      quiet(run(new Detection(policy), [rec.event({ subjectId: 'u-1', ...miss })]), detector);
    });
  }
});

describe('MFA failure bursts (≥ 5 in 300 s) and lockouts', () => {
  const policy = policyWith();
  const failures = (rec: Recorder, n: number, step: number, type = 'auth.totp.login') =>
    Array.from({ length: n }, () => {
      rec.clock.advance(step);
      return rec.event({ type, subjectId: 'u-1' });
    });

  it('fires on the 5th failed second factor (any factor) for one account within 300 s', () => {
    const rec = new Recorder();
    const f = [...failures(rec, 3, 10_000), ...failures(rec, 1, 10_000, 'auth.webauthn.login'), ...failures(rec, 1, 10_000, 'auth.passkey.login')];
    const a = firesOnce(run(new Detection(policy), f), 'mfa_failures', f[4]!);
    expect(a).toMatchObject({ severity: 'high', subject: 'u-1', dedupeKey: 'mfa_failures:principal:u-1' });
  });

  it('stays quiet on 4 failures, a 5th beyond the window, successes and password failures', () => {
    const rec = new Recorder();
    const d = new Detection(policy);
    quiet(run(d, failures(rec, 4, 60_000)), 'mfa_failures');
    rec.clock.advance(120_000);
    quiet(run(d, [...failures(rec, 1, 0), rec.event({ type: 'auth.totp.login', outcome: 'success', subjectId: 'u-1' }), rec.event({ type: 'auth.password', subjectId: 'u-1' })]), 'mfa_failures');
  });

  it('fires on every lockout, quiet on a throttled attempt', () => {
    const rec = new Recorder();
    const l = rec.event({ type: 'auth.lockout', subjectId: 'u-1', details: { key_kind: 'account', key: 'mfa:u-1', seconds: 60 } });
    const a = firesOnce(run(new Detection(policy), [l]), 'mfa_failures', l);
    expect(a).toMatchObject({ dedupeKey: 'mfa_lockout:mfa:u-1', details: { kind: 'lockout' } });
    quiet(run(new Detection(policy), [rec.event({ type: 'auth.throttled', subjectId: 'u-1' })]), 'mfa_failures');
  });
});

describe('repeated refusals of identifier columns (≥ 5 in 300 s)', () => {
  const policy = policyWith();
  it('fires on the 5th deny naming identifier columns', () => {
    const rec = new Recorder();
    const r = Array.from({ length: 5 }, () => {
      rec.clock.advance(20_000);
      return rec.decision({ effect: 'deny', deniedIdentifiers: ['ssn'] });
    });
    const a = firesOnce(run(new Detection(policy), r), 'identifier_refusals', r[4]!);
    expect(a).toMatchObject({ severity: 'high', subject: 'p-1', details: { columns: ['ssn'] } });
  });

  it('stays quiet on 4 of them plus a deny of non-identifier columns', () => {
    const rec = new Recorder();
    const r = [...Array.from({ length: 4 }, () => rec.decision({ effect: 'deny', deniedIdentifiers: ['mrn'] })), rec.decision({ effect: 'deny', deniedIdentifiers: [] })];
    quiet(run(new Detection(policy), r), 'identifier_refusals');
  });
});

describe('takeover: windows rebuilt from the records before the cursors', () => {
  const policy = policyWith();
  it('replays without raising, and continues the burst the previous consumer was counting', () => {
    const rec = new Recorder();
    const before = Array.from({ length: 19 }, () => rec.decision({ effect: 'deny', callerId: null }));
    const d = new Detection(policy);
    // A 20th in the replay (say, thresholds lowered since) would complete the pattern: still nothing raised.
    d.replay(before, () => new Set());
    const next = rec.decision({ effect: 'deny', callerId: null });
    const a = firesOnce(run(d, [next]), 'deny_burst', next);
    expect(a.evidence).toHaveLength(20);
  });

  it('skips records a detector already used as evidence', () => {
    const rec = new Recorder();
    const before = Array.from({ length: 19 }, () => rec.decision({ effect: 'deny', callerId: null }));
    const d = new Detection(policy);
    d.replay(before, () => new Set(['deny_burst'] as const));
    quiet(run(d, [rec.decision({ effect: 'deny', callerId: null })]), 'deny_burst');
  });

  it('the rebuild window is the longest detector window', () => {
    expect(new Detection(policy).windowMs).toBe(300_000);
    expect(new Detection(policyWith({ deny_burst: { window_seconds: 900 } })).windowMs).toBe(900_000);
  });
});
