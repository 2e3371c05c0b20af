/**
 * Pieces the administrators' pages share: the notice of a change held for
 * a second administrator (a 202 answer), lists of words, days to a date.
 */
import type { ComponentChildren } from 'preact';
import { Link } from '../../router.tsx';
import { Time } from '../../ui/Time.tsx';
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

/** A list of words, or a dash. */
export function Words({ items }: { items: string[] | undefined }) {
  return <>{items && items.length ? items.join(', ') : '—'}</>;
}

/** Days from today (UTC) to a calendar date: negative when past. */
export function daysUntil(date: string, now = new Date()): number {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Math.round((Date.parse(`${date}T00:00:00Z`) - today) / 86_400_000);
}

/**
 * A record's "Edit" section: a button that starts editing with the record's
 * values, then a form of the fields with "Save <noun>" (disabled while busy
 * or `blocked`) and "Cancel".
 */
export function EditSection<T>(props: {
  id: string;
  noun: string;
  edit: T | undefined;
  setEdit: (v: T | undefined) => void;
  start: () => T;
  save: () => void;
  busy: boolean;
  blocked?: boolean;
  children: (edit: T) => ComponentChildren;
}) {
  const { edit, setEdit } = props;
  return (
    <section aria-labelledby={props.id}>
      <h2 id={props.id}>Edit</h2>
      {edit === undefined ? (
        <button type="button" onClick={() => setEdit(props.start())}>
          Edit {props.noun}
        </button>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            props.save();
          }}
        >
          {props.children(edit)}
          <SaveOrCancel label={`Save ${props.noun}`} disabled={props.busy || props.blocked} onCancel={() => setEdit(undefined)} />
        </form>
      )}
    </section>
  );
}

/** An edit form's submit button and its "Cancel". */
export function SaveOrCancel({ label, disabled, onCancel }: { label: string; disabled?: boolean; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="submit" disabled={disabled}>
        {label}
      </button>
      <button type="button" class="secondary" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}
