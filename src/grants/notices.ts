/**
 * The notifications the workflow sends, as webhook events.
 */
import type { AccessRequest, Grant, Notification } from './store.ts';

/** A request event. */
export function requestNotice(event: string, r: AccessRequest, extra: Record<string, unknown> = {}): Notification {
  return { event, data: { request: r, ...extra } };
}

/** A grant event. */
export function grantNotice(event: string, g: Grant, extra: Record<string, unknown> = {}): Notification {
  return { event, data: { grant: g, ...extra } };
}
