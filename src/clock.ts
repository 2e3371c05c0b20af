/**
 * Injected time and identifiers. Logic takes a Clock and an IdGenerator
 * instead of reading Date.now() deep inside, so tests can freeze time.
 */
import { randomFillSync } from 'node:crypto';

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
  // Random bytes are drawn 4 KiB at a time (one system call per 256 ids).
  const pool = Buffer.alloc(4096);
  let offset = pool.length;
  return () => {
    if (offset + 10 > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const ms = clock.now().getTime();
    const time = ms.toString(16).padStart(12, '0');
    const r = pool.toString('hex', offset, offset + 10);
    const v = (pool[offset]! & 0x0f) | 0x70;
    const w = (pool[offset + 2]! & 0x3f) | 0x80;
    offset += 10;
    return `${time.slice(0, 8)}-${time.slice(8, 12)}-${HEX[v]}${r.slice(2, 4)}-${HEX[w]}${r.slice(6, 8)}-${r.slice(8, 20)}`;
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
