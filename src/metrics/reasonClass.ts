/**
 * Deny reasons as metric labels. The engine's reasons are free text naming
 * principals, datasets, rules, columns and grants, so they cannot be labels
 * (every new name would be a new time series). Each is mapped here to one of
 * a fixed set of classes, by the fixed wording the engine gives it
 * (src/engine/decide.ts); text this table does not know is `other`, so the
 * label's cardinality stays bounded whatever the policy or the input.
 */

/** The reason classes (docs/metrics.md lists what each covers). */
export const REASON_CLASSES = [
  'principal_disabled',
  'purpose_not_permitted',
  'baa',
  'column_request',
  'columns_not_granted',
  'denied_by_rule',
  'no_allowing_rule',
  'condition_not_met',
  'grant_window',
  'break_glass_required',
  'sponsor',
  'other',
] as const;

/** One reason class. */
export type ReasonClass = (typeof REASON_CLASSES)[number];

/** The engine's prefix for a reason that comes from the sponsor's own decision. */
const SPONSOR_PREFIX = 'sponsor lacks access: ';

/** The class of one deny reason (the engine's wording; anything unknown is `other`). */
export function reasonClass(reason: string): ReasonClass {
  // A service is never granted more than its sponsor: whatever the sponsor lacks, the cause is the sponsor.
  if (reason.startsWith(SPONSOR_PREFIX) || reason.startsWith('sponsor ') || (reason.startsWith('service ') && reason.endsWith(' has no sponsor'))) return 'sponsor';
  if (reason.startsWith('principal ') && reason.endsWith(' is disabled')) return 'principal_disabled';
  if (reason.startsWith('purpose ')) {
    if (reason.includes(' is not permitted for dataset ')) return 'purpose_not_permitted';
    if (reason.includes(' is not in the BAA of vendor ')) return 'baa';
    if (reason.includes(' needs an active break-glass grant')) return 'break_glass_required';
    return 'other';
  }
  if (reason.startsWith('vendor ') && reason.endsWith(' has no active BAA')) return 'baa';
  if (reason.startsWith('classification ') && reason.includes(' is not in the BAA of vendor ')) return 'baa';
  if (reason.startsWith('columns "*" are refused') || reason.startsWith('no columns requested') || reason.startsWith('unknown column(s): ')) return 'column_request';
  if (reason.startsWith('column(s) ') && reason.includes(' not granted')) return 'columns_not_granted';
  if (reason.startsWith('denied by rule ')) return 'denied_by_rule';
  if (reason.startsWith('no rule allows ') || reason.startsWith('no role (standing or active grant) applies')) return 'no_allowing_rule';
  if (reason.startsWith('condition of rule ') && reason.endsWith(' not met')) return 'condition_not_met';
  if (reason.startsWith('grant(s) ') && (reason.endsWith(' expired') || reason.endsWith(' not yet active'))) return 'grant_window';
  return 'other';
}
