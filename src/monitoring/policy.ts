/**
 * The monitoring policy (policies/monitoring.yaml): which detectors run, their
 * thresholds and severities, and the working hours in an IANA time zone.
 * Validated with zod when the server starts: a bad file stops start-up with a
 * message naming the field, never a half-configured detection.
 * docs/monitoring.md describes every field.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';

/** The shipped file, used unless CUSTOS_MONITORING_FILE names another. */
export const DEFAULT_MONITORING_FILE = fileURLToPath(new URL('../../policies/monitoring.yaml', import.meta.url));

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
/** How urgent an alert is. */
export type Severity = (typeof SEVERITIES)[number];

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
/** A day of the week, as the policy names it. */
export type Weekday = (typeof WEEKDAYS)[number];

/** An IANA zone this runtime knows (Intl refuses the others). */
const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'an IANA time zone such as America/New_York');

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24 h)');
const severity = z.enum(SEVERITIES);
const positiveInt = z.number().int().positive();
const enabled = z.boolean().default(true);

/** ≥ threshold events of a subject within window_seconds. */
const burst = (sev: Severity, threshold: number, window: number) =>
  z.strictObject({ enabled, severity: severity.default(sev), threshold: positiveInt.default(threshold), window_seconds: positiveInt.max(86_400).default(window) });

const plain = (sev: Severity) => z.strictObject({ enabled, severity: severity.default(sev) });

/** The file's schema. */
export const monitoringPolicySchema = z.strictObject({
  version: z.literal(1),
  timezone: timeZone,
  working_hours: z
    .strictObject({
      days: z.array(z.enum(WEEKDAYS)).min(1).refine((d) => new Set(d).size === d.length, 'each day once'),
      start: clockTime,
      end: clockTime,
    })
    .refine((h) => h.start < h.end, { message: 'start must be before end (hours spanning midnight are not supported)', path: ['end'] }),
  detectors: z.strictObject({
    deny_burst: burst('medium', 20, 60),
    phi_after_hours: plain('high'),
    volume_anomaly: z
      .strictObject({
        enabled,
        severity: severity.default('medium'),
        interval_seconds: positiveInt.min(10).max(86_400).default(300),
        alpha: z.number().gt(0).lt(1).default(0.1),
        z_threshold: z.number().positive().default(4),
        min_intervals: positiveInt.default(12),
        min_count: positiveInt.default(20),
      }),
    first_access: plain('low'),
    new_source: plain('medium'),
    break_glass: plain('critical'),
    mfa_failures: z.strictObject({
      enabled,
      severity: severity.default('high'),
      threshold: positiveInt.default(5),
      window_seconds: positiveInt.max(86_400).default(300),
      lockout_severity: severity.default('high'),
    }),
    webauthn_counter: plain('critical'),
    identifier_refusals: burst('high', 5, 300),
    chain_verification: plain('critical'),
  }),
});

/** A validated monitoring policy. */
export type MonitoringPolicy = z.infer<typeof monitoringPolicySchema>;

/** Parses and validates policy text; ConfigError names the file, the field and what is wrong. */
export function parseMonitoringPolicy(text: string, source: string): MonitoringPolicy {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML (${err instanceof Error ? err.message.split('\n')[0] : String(err)}).`);
  }
  const r = monitoringPolicySchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(file)'}: ${i.message}`);
    throw new ConfigError(`${source} is not a valid monitoring policy: ${issues.join('; ')}.`);
  }
  return r.data;
}

/** Reads and validates the policy file. */
export function loadMonitoringPolicy(file: string, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): MonitoringPolicy {
  let text: string;
  try {
    text = readFile(file);
  } catch {
    throw new ConfigError(`The monitoring policy ${file} cannot be read (CUSTOS_MONITORING_FILE).`);
  }
  return parseMonitoringPolicy(text, file);
}
