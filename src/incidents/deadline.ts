/**
 * The breach-notification clock, pure (no I/O, no clock reads): HIPAA
 * §164.404(b) says notice goes out "without unreasonable delay and in no
 * case later than 60 calendar days after discovery". Calendar days are the
 * covered entity's, so they are counted in its IANA time zone: the deadline
 * is the end of the 60th calendar day after the local date of discovery,
 * as an instant. Days are civil days, never 86,400-second blocks, so a
 * daylight-saving change inside the 60 days (23- or 25-hour days, or
 * Lord Howe's 30-minute shift) moves the instant, not the date.
 *
 * Offsets come from Intl (the runtime's tz database); no package needed.
 */

/** A civil date in a time zone, `YYYY-MM-DD`. */
export type CivilDate = string;

/** Days from discovery to the notification deadline (§164.404(b)). */
export const NOTIFICATION_DAYS = 60;

const MS_PER_DAY = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone (building one costs far more than using it). */
function formatterOf(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * The canonical name of an IANA time zone (`america/new_york` →
 * `America/New_York`), or undefined when the runtime does not know it.
 * Offsets like `+05:00` are refused: they have no daylight-saving rules and
 * are not a place's calendar.
 */
export function canonicalTimeZone(zone: string): string | undefined {
  const known = canonical.get(zone);
  if (known) return known;
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(zone)) return undefined;
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    // Bounded: spellings are many (case), zones few.
    if (canonical.size < 2048) canonical.set(zone, name);
    return name;
  } catch {
    return undefined;
  }
}

/** Names already resolved (building a formatter to ask costs ~0.2 ms). */
const canonical = new Map<string, string>();

/** Local wall-clock fields of an instant in a zone. */
function wallClock(t: number, zone: string): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const p: Record<string, number> = {};
  for (const part of formatterOf(zone).formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, m: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

/** The zone's offset from UTC at instant `t`, in ms (local wall time minus UTC). */
export function offsetAt(t: number, zone: string): number {
  const w = wallClock(t, zone);
  const whole = Math.floor(t / 1000) * 1000;
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - whole;
}

/** The civil date of an instant in a zone. */
export function localDate(at: Date, zone: string): CivilDate {
  const w = wallClock(at.getTime(), zone);
  return `${String(w.y).padStart(4, '0')}-${String(w.m).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** Days since 1970-01-01 of a civil date (proleptic Gregorian). */
function dayNumber(date: CivilDate): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new RangeError(`not a civil date: ${date}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / MS_PER_DAY;
}

/** The civil date `days` after `date` (negative: before). */
export function addDays(date: CivilDate, days: number): CivilDate {
  return new Date((dayNumber(date) + days) * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Whole civil days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: CivilDate, to: CivilDate): number {
  return dayNumber(to) - dayNumber(from);
}

/**
 * The first instant of a civil date in a zone. Usually local midnight; where
 * midnight does not exist (a spring-forward at 00:00, e.g. America/Santiago),
 * the instant of the change, when the date begins; where it exists twice (a
 * fall-back to 23:00 of the day before), the first time.
 */
export function startOfDay(date: CivilDate, zone: string): Date {
  const wall = dayNumber(date) * MS_PER_DAY;
  // A day holds at most one change: the offsets before and after it bound every candidate.
  const before = offsetAt(wall - MS_PER_DAY, zone);
  const after = offsetAt(wall + MS_PER_DAY, zone);
  const exact = [wall - before, wall - after].filter((t) => t + offsetAt(t, zone) === wall).sort((a, b) => a - b);
  if (exact.length) return new Date(exact[0]!);
  // Midnight was skipped: the date begins at the change, found by bisection (the offset is `before` until then).
  let lo = Math.min(wall - before, wall - after);
  let hi = Math.max(wall - before, wall - after);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, zone) === before) lo = mid;
    else hi = mid;
  }
  return new Date(hi);
}

/** When notice is due, as computed at discovery. */
export interface NotificationDeadline {
  /** The zone the days are counted in (canonical name). */
  timeZone: string;
  /** The local date of discovery (day 0). */
  discoveryDate: CivilDate;
  /** The 60th calendar day after it: the last day notice may go out. */
  deadlineDate: CivilDate;
  /** The last instant of that day in the zone (the next day starts 1 ms later). */
  deadlineAt: Date;
}

/**
 * The notification deadline of a breach discovered at `discoveredAt`:
 * the end of the 60th calendar day after the local date of discovery.
 * Throws a RangeError for a zone the runtime does not know (callers
 * validate zones first, with {@link canonicalTimeZone}).
 */
export function notificationDeadline(discoveredAt: Date, zone: string): NotificationDeadline {
  const timeZone = canonicalTimeZone(zone);
  if (!timeZone) throw new RangeError(`unknown time zone: ${zone}`);
  const discoveryDate = localDate(discoveredAt, timeZone);
  const deadlineDate = addDays(discoveryDate, NOTIFICATION_DAYS);
  const deadlineAt = new Date(startOfDay(addDays(deadlineDate, 1), timeZone).getTime() - 1);
  return { timeZone, discoveryDate, deadlineDate, deadlineAt };
}

/** How much time is left, as of `now`. */
export interface DaysLeft {
  /** Calendar days from today (in the zone) to the deadline date: 0 on the last day, negative after it. */
  daysLeft: number;
  /** The deadline instant has passed. */
  overdue: boolean;
}

/** Days left until the deadline, counted in the deadline's zone. */
export function daysLeft(now: Date, deadline: Pick<NotificationDeadline, 'deadlineDate' | 'deadlineAt' | 'timeZone'>): DaysLeft {
  return { daysLeft: daysBetween(localDate(now, deadline.timeZone), deadline.deadlineDate), overdue: now.getTime() > deadline.deadlineAt.getTime() };
}

/**
 * When the reminder `daysBefore` days ahead of the deadline falls due: the
 * start of the local day on which {@link daysLeft} first reads `daysBefore`.
 */
export function reminderDueAt(deadline: Pick<NotificationDeadline, 'deadlineDate' | 'timeZone'>, daysBefore: number): Date {
  return startOfDay(addDays(deadline.deadlineDate, -daysBefore), deadline.timeZone);
}
