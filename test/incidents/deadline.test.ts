/**
 * The 60-day clock of §164.404(b), counted in the covered entity's calendar.
 * Expected instants were worked out by hand from each zone's published rules
 * (dates of the changes, offsets before and after), not by the code under test.
 */
import { describe, expect, it } from 'vitest';
import { canonicalTimeZone, daysLeft, localDate, notificationDeadline, reminderDueAt, startOfDay } from '../../src/incidents/deadline.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The wall clock of an instant in a zone, `YYYY-MM-DD HH:MM:SS`, read by Intl independently of the module. */
function wall(at: Date, zone: string): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(at);
}

const CASES: { name: string; zone: string; discovered: string; discoveryDate: string; deadlineDate: string; deadlineAt: string; spanHours: number }[] = [
  // Spring forward on 2026-03-08 (EST −5 → EDT −4): 61 local days hold 1463 hours, not 1464.
  { name: 'New York, spring forward inside', zone: 'America/New_York', discovered: '2026-02-20T15:00:00Z', discoveryDate: '2026-02-20', deadlineDate: '2026-04-21', deadlineAt: '2026-04-22T03:59:59.999Z', spanHours: 61 * 24 - 1 },
  // Fall back on 2026-11-01 (EDT −4 → EST −5): one 25-hour day.
  { name: 'New York, fall back inside', zone: 'America/New_York', discovered: '2026-10-01T12:00:00Z', discoveryDate: '2026-10-01', deadlineDate: '2026-11-30', deadlineAt: '2026-12-01T04:59:59.999Z', spanHours: 61 * 24 + 1 },
  // BST begins 2026-03-29 (GMT → +1).
  { name: 'London, BST begins inside', zone: 'Europe/London', discovered: '2026-03-10T10:00:00Z', discoveryDate: '2026-03-10', deadlineDate: '2026-05-09', deadlineAt: '2026-05-09T22:59:59.999Z', spanHours: 61 * 24 - 1 },
  // Southern hemisphere: AEDT (+11) ends 2026-04-05, back to AEST (+10).
  { name: 'Sydney, DST ends inside (April)', zone: 'Australia/Sydney', discovered: '2026-03-01T00:00:00Z', discoveryDate: '2026-03-01', deadlineDate: '2026-04-30', deadlineAt: '2026-04-30T13:59:59.999Z', spanHours: 61 * 24 + 1 },
  // Lord Howe shifts by 30 minutes: +11 → +10:30 on 2026-04-05.
  { name: 'Lord Howe, 30-minute DST', zone: 'Australia/Lord_Howe', discovered: '2026-03-15T00:00:00Z', discoveryDate: '2026-03-15', deadlineDate: '2026-05-14', deadlineAt: '2026-05-14T13:29:59.999Z', spanHours: 61 * 24 + 0.5 },
  // No DST, half-hour offset; 20:00 UTC is already the next day in India.
  { name: 'Kolkata, no DST', zone: 'Asia/Kolkata', discovered: '2026-01-10T20:00:00Z', discoveryDate: '2026-01-11', deadlineDate: '2026-03-12', deadlineAt: '2026-03-12T18:29:59.999Z', spanHours: 61 * 24 },
  // +12:45 → +13:45 on 2026-09-27.
  { name: 'Chatham, far offset with DST', zone: 'Pacific/Chatham', discovered: '2026-09-10T12:00:00Z', discoveryDate: '2026-09-11', deadlineDate: '2026-11-10', deadlineAt: '2026-11-10T10:14:59.999Z', spanHours: 61 * 24 - 1 },
  // +14, the earliest calendar on Earth: local midnight exactly.
  { name: 'Kiritimati, +14', zone: 'Pacific/Kiritimati', discovered: '2026-06-01T10:00:00Z', discoveryDate: '2026-06-02', deadlineDate: '2026-08-01', deadlineAt: '2026-08-01T09:59:59.999Z', spanHours: 61 * 24 },
  { name: 'UTC', zone: 'UTC', discovered: '2026-12-31T23:59:59Z', discoveryDate: '2026-12-31', deadlineDate: '2027-03-01', deadlineAt: '2027-03-01T23:59:59.999Z', spanHours: 61 * 24 },
];

describe('notificationDeadline', () => {
  for (const c of CASES) {
    it(`${c.name}: the end of the 60th local calendar day after discovery`, () => {
      const d = notificationDeadline(new Date(c.discovered), c.zone);
      expect(d.discoveryDate).toBe(c.discoveryDate);
      expect(d.deadlineDate).toBe(c.deadlineDate);
      expect(d.deadlineAt.toISOString()).toBe(c.deadlineAt);
      // Read back through Intl: the last second of the deadline date, and the next instant is the day after.
      expect(wall(d.deadlineAt, c.zone)).toBe(`${c.deadlineDate} 23:59:59`);
      expect(wall(new Date(d.deadlineAt.getTime() + 1), c.zone).slice(11)).toBe('00:00:00');
      // From the start of the discovery day to the end of the deadline day: 61 local days, however long they were.
      const span = d.deadlineAt.getTime() + 1 - startOfDay(c.discoveryDate, c.zone).getTime();
      expect(span / HOUR).toBe(c.spanHours);
    });
  }

  it('is never 60 × 86,400 s after discovery across a DST change', () => {
    const at = new Date('2026-02-20T15:00:00Z');
    const d = notificationDeadline(at, 'America/New_York');
    expect(localDate(new Date(at.getTime() + 60 * DAY), 'America/New_York')).toBe('2026-04-21');
    // The naive clock would end 61 × 24 h after local midnight, an hour into the next day.
    expect(wall(new Date(startOfDay('2026-02-20', 'America/New_York').getTime() + 61 * DAY - 1), 'America/New_York')).toBe('2026-04-22 00:59:59');
    expect(d.deadlineAt.toISOString()).toBe('2026-04-22T03:59:59.999Z');
  });

  it('a discovery one second before local midnight and one at midnight fall on different days', () => {
    const before = notificationDeadline(new Date('2026-02-28T12:59:59Z'), 'Australia/Sydney'); // 23:59:59 AEDT, 28 Feb
    const after = notificationDeadline(new Date('2026-02-28T13:00:00Z'), 'Australia/Sydney'); // 00:00:00 AEDT, 1 Mar
    expect([before.discoveryDate, before.deadlineDate, before.deadlineAt.toISOString()]).toEqual(['2026-02-28', '2026-04-29', '2026-04-29T13:59:59.999Z']);
    expect([after.discoveryDate, after.deadlineDate, after.deadlineAt.toISOString()]).toEqual(['2026-03-01', '2026-04-30', '2026-04-30T13:59:59.999Z']);
    // The same instants in UTC are one calendar day: the zone decides.
    expect(notificationDeadline(new Date('2026-02-28T12:59:59Z'), 'UTC').deadlineDate).toBe(notificationDeadline(new Date('2026-02-28T13:00:00Z'), 'UTC').deadlineDate);
    // New York: 23:59:59 and 00:00:00 local on a winter night.
    expect(notificationDeadline(new Date('2026-01-16T04:59:59Z'), 'America/New_York').deadlineDate).toBe('2026-03-16');
    expect(notificationDeadline(new Date('2026-01-16T05:00:00Z'), 'America/New_York').deadlineDate).toBe('2026-03-17');
  });

  it('refuses a zone the runtime does not know', () => {
    expect(() => notificationDeadline(new Date(), 'Mars/Olympus_Mons')).toThrow(RangeError);
  });
});

describe('startOfDay', () => {
  it('is the change itself where midnight is skipped (Santiago, 2026-09-06 00:00 → 01:00)', () => {
    expect(startOfDay('2026-09-06', 'America/Santiago').toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(wall(startOfDay('2026-09-06', 'America/Santiago'), 'America/Santiago')).toBe('2026-09-06 01:00:00');
    expect(wall(new Date(startOfDay('2026-09-06', 'America/Santiago').getTime() - 1), 'America/Santiago')).toBe('2026-09-05 23:59:59');
  });

  it('is local midnight on the day a zone falls back at midnight (Santiago, 2026-04-05)', () => {
    const s = startOfDay('2026-04-05', 'America/Santiago');
    expect(wall(s, 'America/Santiago')).toBe('2026-04-05 00:00:00');
    expect(localDate(new Date(s.getTime() - 1), 'America/Santiago')).toBe('2026-04-04');
  });
});

describe('daysLeft', () => {
  const d = notificationDeadline(new Date('2026-02-20T15:00:00Z'), 'America/New_York'); // deadline date 2026-04-21 (EDT)

  it('counts calendar days in the zone, 60 on the day of discovery', () => {
    expect(daysLeft(new Date('2026-02-20T15:00:00Z'), d)).toEqual({ daysLeft: 60, overdue: false });
    // 03:00 UTC on 21 Feb is still 20 Feb in New York.
    expect(daysLeft(new Date('2026-02-21T03:00:00Z'), d)).toEqual({ daysLeft: 60, overdue: false });
    expect(daysLeft(new Date('2026-02-21T05:00:00Z'), d)).toEqual({ daysLeft: 59, overdue: false });
  });

  it('is 1 the day before, 0 on the last day until its last instant, then negative and overdue', () => {
    expect(daysLeft(new Date('2026-04-20T12:00:00Z'), d)).toEqual({ daysLeft: 1, overdue: false });
    expect(daysLeft(new Date('2026-04-21T04:00:00Z'), d)).toEqual({ daysLeft: 0, overdue: false }); // 00:00 EDT
    expect(daysLeft(d.deadlineAt, d)).toEqual({ daysLeft: 0, overdue: false }); // 23:59:59.999 EDT
    expect(daysLeft(new Date(d.deadlineAt.getTime() + 1), d)).toEqual({ daysLeft: -1, overdue: true });
    expect(daysLeft(new Date('2026-05-01T12:00:00Z'), d)).toEqual({ daysLeft: -10, overdue: true });
  });
});

describe('reminderDueAt', () => {
  it('falls at the start of the local day on which that many days are left', () => {
    const d = notificationDeadline(new Date('2026-10-01T12:00:00Z'), 'America/New_York'); // deadline 2026-11-30 EST
    const seven = reminderDueAt(d, 7);
    expect(seven.toISOString()).toBe('2026-11-23T05:00:00.000Z');
    expect(daysLeft(seven, d).daysLeft).toBe(7);
    expect(daysLeft(new Date(seven.getTime() - 1), d).daysLeft).toBe(8);
    // 30 days before: 31 October, still EDT (the change is on 1 November).
    expect(reminderDueAt(d, 30).toISOString()).toBe('2026-10-31T04:00:00.000Z');
  });
});

describe('canonicalTimeZone', () => {
  it('names known zones canonically and refuses the rest', () => {
    expect(canonicalTimeZone('america/new_york')).toBe('America/New_York');
    expect(canonicalTimeZone('Australia/Lord_Howe')).toBe('Australia/Lord_Howe');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const bad of ['Mars/Olympus_Mons', '', '+05:00', 'America/New_York\u0000', '../etc/passwd', 'x'.repeat(100)]) expect(canonicalTimeZone(bad), bad).toBeUndefined();
  });
});
