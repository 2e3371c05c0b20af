/**
 * Injected time and identifiers. Logic takes a Clock and an IdGenerator
 * instead of reading Date.now() deep inside, so tests can freeze time.
 */
import { randomBytes } from 'node:crypto';

/** Source of the current time. */
export interface Clock {
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can set and advance. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | number = Date.UTC(2026, 0, 15, 12, 0, 0)) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  set(t: Date | number): void {
    this.t = typeof t === 'number' ? t : t.getTime();
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Generator of unique ids. */
export type IdGenerator = () => string;

/**
 * UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then random bits. Ids
 * sort by creation time, so keyset pagination by id follows creation order.
 */
export function uuidv7Generator(clock: Clock = systemClock): IdGenerator {
  return () => {
    const b = randomBytes(16);
    const ms = BigInt(clock.now().getTime());
    for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
    b[6] = (b[6]! & 0x0f) | 0x70;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
}
