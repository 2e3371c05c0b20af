/** How the access pages say durations, scopes and statuses. */
import type { Grant } from '../../api/types.ts';
import type { AccessRequest } from './types.ts';

/** 7200 → "2 hours"; 90 → "1 minute 30 seconds" (the largest two units). */
export function duration(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  const parts: string[] = [];
  let left = Math.max(0, Math.round(seconds));
  for (const [size, name] of units) {
    const n = Math.floor(left / size);
    if (n > 0 && parts.length < 2) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
    left -= n * size;
  }
  return parts.join(' ') || '0 seconds';
}

/** Where a request or grant applies: one dataset, or a project. */
export function scopeOf(x: Pick<AccessRequest | Grant, 'project_id' | 'dataset_id'>): string {
  if (x.dataset_id) return `dataset ${x.dataset_id}`;
  if (x.project_id) return `project ${x.project_id}`;
  return 'organisation-wide';
}

export const STATUS: Record<AccessRequest['status'], string> = {
  pending: 'Pending',
  approved: 'Approved',
  denied: 'Denied',
  cancelled: 'Cancelled',
  expired: 'Expired',
};

export const BASIS: Record<'standing' | 'grant' | 'break-glass', string> = {
  standing: 'Standing role',
  grant: 'Just-in-time grant',
  'break-glass': 'Break-glass',
};

export const GRANT_STATE: Record<Grant['state'], string> = {
  scheduled: 'Scheduled',
  active: 'Active',
  expired: 'Expired',
  revoked: 'Revoked',
};
