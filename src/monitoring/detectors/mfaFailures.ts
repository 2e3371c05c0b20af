/**
 * Log-in monitoring (§164.308(a)(5)(ii)(C)): bursts of failed second-factor
 * attempts (TOTP, WebAuthn, passkey, recovery code; login or step-up) per
 * account, or per source address when the account is unknown, and every
 * lockout the throttle imposes (`auth.lockout`).
 */
import type { MonitoringPolicy } from '../policy.ts';
import { evidenceOf, type AuditSeen } from '../records.ts';
import { BurstWindows } from '../window.ts';
import type { Detector } from './detector.ts';

/** The audit event types of a second-factor attempt (src/auth: totp/, webauthn/, recoveryCodes.ts). */
export const MFA_EVENT_TYPES: ReadonlySet<string> = new Set(['auth.totp.login', 'auth.totp.step-up', 'auth.webauthn.login', 'auth.webauthn.step-up', 'auth.passkey.login', 'recovery_code.used']);

/** Whose attempt it was: the account, else the address it came from. */
function subjectOf(e: AuditSeen): [string, string] | undefined {
  if (e.subjectId) return ['principal', e.subjectId];
  if (e.sourceIp) return ['source', e.sourceIp];
  return undefined;
}

/** The MFA failures and lockouts detector. */
export function mfaFailuresDetector(settings: MonitoringPolicy['detectors']['mfa_failures']): Detector {
  const windowMs = settings.window_seconds * 1000;
  const windows = new BurstWindows({ windowMs, threshold: settings.threshold });
  return {
    name: 'mfa_failures',
    windowMs,
    observe(r, replay) {
      if (r.log !== 'audit_events' || r.outcome !== 'failure') return [];
      if (r.type === 'auth.lockout') {
        if (replay) return [];
        const key = typeof r.details.key === 'string' ? r.details.key : (r.subjectId ?? r.sourceIp ?? 'unknown');
        return [
          {
            detector: 'mfa_failures',
            severity: settings.lockout_severity,
            subject: r.subjectId ?? key,
            dedupeKey: `mfa_lockout:${key}`,
            title: r.details.key_kind === 'source' ? 'A source address was locked out after failed attempts' : 'An account was locked out after failed attempts',
            details: { kind: 'lockout', key, key_kind: r.details.key_kind ?? null, seconds: r.details.seconds ?? null, source_ip: r.sourceIp },
            at: r.at,
            evidence: [evidenceOf(r)],
          },
        ];
      }
      if (!MFA_EVENT_TYPES.has(r.type) || replay?.usedBy.has('mfa_failures')) return [];
      const who = subjectOf(r);
      if (!who) return [];
      const fired = windows.add(who.join(':'), evidenceOf(r));
      if (!fired || replay) return [];
      return [
        {
          detector: 'mfa_failures',
          severity: settings.severity,
          subject: who[1],
          dedupeKey: `mfa_failures:${who[0]}:${who[1]}`,
          title: `${fired.length} failed second-factor attempts within ${settings.window_seconds} s`,
          details: { kind: 'burst', by: who[0], count: fired.length, window_seconds: settings.window_seconds, threshold: settings.threshold, last_type: r.type },
          at: r.at,
          evidence: fired,
        },
      ];
    },
    prune: (now) => windows.prune(now),
  };
}
