/**
 * Pieces the administrators' pages share: principal names looked up by id
 * (sponsors, owners, proposers), and the notice of a change held for a
 * second administrator (a 202 answer).
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Time } from '../../ui/Time.tsx';
import type { Principal } from '../../api/types.ts';
import type { Change } from './types.ts';

/** What a 202 answer means, with the change to approve. */
export function Held({ change }: { change: Change }) {
  return (
    <>
      Held for a second administrator ({change.reasons.join(', ') || change.kind}): <Link to={`/admin/changes/${change.id}`}>pending change</Link>, until <Time value={change.expires_at} />.
    </>
  );
}

/** Whether an answer is a change held for a second administrator (202). */
export const isHeld = (r: unknown): r is Change => typeof r === 'object' && r !== null && 'proposer_id' in r && 'reasons' in r;

const names = new Map<string, Promise<Principal | undefined>>();

/** A principal by id, fetched once per page load and shared. */
export function principalOf(id: string): Promise<Principal | undefined> {
  let p = names.get(id);
  if (!p) {
    p = api<Principal>('GET', `/v1/principals/${encodeURIComponent(id)}`).catch(() => undefined);
    names.set(id, p);
  }
  return p;
}

/** Forgets a principal (after an edit of it). */
export const forgetPrincipal = (id: string) => void names.delete(id);

/** A principal's name, linked to its page (the id until it is known, or if it cannot be read). */
export function PrincipalName({ id }: { id: string | null | undefined }) {
  const [p, setP] = useState<Principal>();
  useEffect(() => {
    let live = true;
    if (id) void principalOf(id).then((x) => live && setP(x));
    return () => void (live = false);
  }, [id]);
  if (!id) return <span>—</span>;
  return <Link to={`/admin/principals/${id}`}>{p ? p.name : id}</Link>;
}

/** A list of words, or a dash. */
export function Words({ items }: { items: string[] | undefined }) {
  return <>{items && items.length ? items.join(', ') : '—'}</>;
}

/** Days from today (UTC) to a calendar date: negative when past. */
export function daysUntil(date: string, now = new Date()): number {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Math.round((Date.parse(`${date}T00:00:00Z`) - today) / 86_400_000);
}
