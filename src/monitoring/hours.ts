/**
 * Working hours in an IANA time zone: whether an instant falls on a working
 * day between start (inclusive) and end (exclusive), local time in that zone
 * (so daylight saving time moves the hours with the wall clock).
 */
import type { MonitoringPolicy, Weekday } from './policy.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  return f;
}

/** The local weekday and HH:MM of `at` in `timeZone`. */
export function localTime(at: number, timeZone: string): { day: Weekday; time: string } {
  let day = '';
  let hour = '00';
  let minute = '00';
  for (const p of formatter(timeZone).formatToParts(at)) {
    if (p.type === 'weekday') day = p.value.toLowerCase().slice(0, 3);
    else if (p.type === 'hour') hour = p.value;
    else if (p.type === 'minute') minute = p.value;
  }
  return { day: day as Weekday, time: `${hour}:${minute}` };
}

/** Whether `at` is inside the policy's working hours. */
export function withinWorkingHours(at: number, policy: Pick<MonitoringPolicy, 'timezone' | 'working_hours'>): boolean {
  const { day, time } = localTime(at, policy.timezone);
  const h = policy.working_hours;
  return h.days.includes(day) && time >= h.start && time < h.end;
}
