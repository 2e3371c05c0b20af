/**
 * The incident settings are checked when the configuration is loaded: an
 * unknown time zone or a reminder at or beyond the 60-day clock stops the
 * start, instead of a deadline silently counted in the wrong calendar.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

describe('incident configuration', () => {
  it('defaults to UTC and reminders 30, 14, 7, 3 and 1 days before the deadline', () => {
    expect(loadConfig({}).incidents).toEqual({ timeZone: 'UTC', reminderDays: [30, 14, 7, 3, 1] });
  });

  it('takes an IANA zone under its canonical name, and reminder points in any order, once each', () => {
    expect(loadConfig({ CUSTOS_TIME_ZONE: 'australia/lord_howe', CUSTOS_INCIDENT_REMINDER_DAYS: '1, 45,7,45,0' }).incidents).toEqual({ timeZone: 'Australia/Lord_Howe', reminderDays: [45, 7, 1, 0] });
  });

  it('refuses an unknown zone at load', () => {
    for (const zone of ['Mars/Olympus_Mons', 'EST5EDT-ish', '+05:00']) {
      expect(() => loadConfig({ CUSTOS_TIME_ZONE: zone }), zone).toThrow(ConfigError);
      expect(() => loadConfig({ CUSTOS_TIME_ZONE: zone }), zone).toThrow(/CUSTOS_TIME_ZONE/);
    }
  });

  it('refuses reminder points that are not whole days under 60', () => {
    for (const days of ['60', '30,90', 'seven', '7,,3', '-1', '1.5']) expect(() => loadConfig({ CUSTOS_INCIDENT_REMINDER_DAYS: days }), days).toThrow(ConfigError);
    expect(loadConfig({ CUSTOS_INCIDENT_REMINDER_DAYS: '59' }).incidents.reminderDays).toEqual([59]);
  });
});
