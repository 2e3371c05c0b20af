/**
 * The monitoring policy file: the shipped one is valid; a bad one is refused
 * with a message naming the file, the field and what is wrong; and a server
 * given a bad one does not start (exit code 2, the message on stderr).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { DEFAULT_MONITORING_FILE, loadMonitoringPolicy, parseMonitoringPolicy } from '../../src/monitoring/policy.ts';
import { monitoringPolicyOf } from '../../src/wire.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED = readFileSync(DEFAULT_MONITORING_FILE, 'utf8');

function refusal(text: string): string {
  try {
    parseMonitoringPolicy(text, 'monitoring.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('the monitoring policy', () => {
  it('ships valid, with every detector on', () => {
    const p = loadMonitoringPolicy(DEFAULT_MONITORING_FILE);
    expect(p.timezone).toBe('America/New_York');
    expect(p.working_hours).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00' });
    expect(Object.values(p.detectors).every((d) => d.enabled)).toBe(true);
    expect(p.detectors.deny_burst).toEqual({ enabled: true, severity: 'medium', threshold: 20, window_seconds: 60 });
  });

  it('is found through CUSTOS_MONITORING_FILE, and not read at all when monitoring is off', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custos-mon-'));
    const file = path.join(dir, 'm.yaml');
    writeFileSync(file, SHIPPED.replace('America/New_York', 'Europe/Berlin'));
    expect(monitoringPolicyOf(loadConfig({ CUSTOS_MONITORING_FILE: file }, () => ''))?.timezone).toBe('Europe/Berlin');
    expect(monitoringPolicyOf(loadConfig({ CUSTOS_MONITORING: 'false', CUSTOS_MONITORING_FILE: path.join(dir, 'missing.yaml') }, () => ''))).toBeUndefined();
    expect(() => monitoringPolicyOf(loadConfig({ CUSTOS_MONITORING_FILE: path.join(dir, 'missing.yaml') }, () => ''))).toThrow(/cannot be read \(CUSTOS_MONITORING_FILE\)/);
  });

  it('refuses an unknown time zone, naming the field', () => {
    expect(refusal(SHIPPED.replace('America/New_York', 'America/Gotham'))).toMatch(/^monitoring\.yaml is not a valid monitoring policy: timezone: an IANA time zone/);
  });

  it('refuses working hours that end before they start, and a malformed time', () => {
    expect(refusal(SHIPPED.replace('start: "07:00"', 'start: "20:00"'))).toMatch(/working_hours\.end: start must be before end/);
    expect(refusal(SHIPPED.replace('start: "07:00"', 'start: "7am"'))).toMatch(/working_hours\.start: a time of day as HH:MM/);
  });

  it('refuses a zero threshold, an unknown severity, an unknown field and a wrong version', () => {
    expect(refusal(SHIPPED.replace('threshold: 20', 'threshold: 0'))).toMatch(/detectors\.deny_burst\.threshold/);
    expect(refusal(SHIPPED.replace('phi_after_hours: { severity: high }', 'phi_after_hours: { severity: urgent }'))).toMatch(/detectors\.phi_after_hours\.severity/);
    expect(refusal(SHIPPED.replace('break_glass: { severity: critical }', 'break_glass: { severity: critical, treshold: 2 }'))).toMatch(/detectors\.break_glass: Unrecognized key.*treshold/);
    expect(refusal(SHIPPED.replace('version: 1', 'version: 2'))).toMatch(/version/);
    expect(refusal('detectors: [')).toMatch(/not valid YAML/);
  });

  it('stops a server at start-up: exit code 2 and the reason on stderr, before any database is touched', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custos-mon-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, SHIPPED.replace('z_threshold: 4', 'z_threshold: -1'));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_') && k !== 'DATABASE_URL') env[k] = v;
    const child = spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env: { ...env, CUSTOS_DATA_DIR: dir, CUSTOS_MONITORING_FILE: file, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(2);
    expect(err).toContain(`custos: ${file} is not a valid monitoring policy: detectors.volume_anomaly.z_threshold:`);
  });
});
