/**
 * A real logger whose lines are kept in memory, parsed, for tests that check
 * what was logged.
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.ts';

/** A logger at `info` and the lines it has written so far. */
export function capturedLog(): { log: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as { level: string; msg: string });
        cb();
      },
    }),
  });
  return { log, lines };
}
