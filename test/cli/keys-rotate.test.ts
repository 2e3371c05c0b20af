/**
 * `custos keys rotate` as a child process, on the system clock: by default
 * the new key is published now and signs after CUSTOS_KEY_PUBLISH_AHEAD_SECONDS;
 * a second scheduled rotation while one is pending is refused; `--immediate`
 * signs at once and withdraws the pending key. Each rotation is audited
 * (actor null, via cli) in its transaction.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY } from '../support/app.ts';
import { runCustos } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
let dir: string;

const cli = (args: string[]) =>
  runCustos(args, { DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_DATA_DIR: dir, CUSTOS_KEY_PUBLISH_AHEAD_SECONDS: '1200' });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'custos-keys-'));
});
afterAll(async () => {
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('custos keys rotate', () => {
  it('schedules by default, refuses a second pending rotation, and switches at once with --immediate', async () => {
    const first = await cli(['keys', 'rotate']);
    expect(first.code, first.stderr).toBe(0);
    // An empty table: the first key signs at once.
    expect(first.stdout).toMatch(/^key [\w-]{43} signing now\n$/);

    const before = Date.now();
    const scheduled = await cli(['keys', 'rotate']);
    expect(scheduled.code, scheduled.stderr).toBe(0);
    const m = /^key ([\w-]{43}) published now, signing from (\S+); ([\w-]{43}) signs until then and stays published until its tokens expire\n$/.exec(scheduled.stdout);
    expect(m, scheduled.stdout).not.toBeNull();
    const activation = Date.parse(m![2]!);
    expect(activation).toBeGreaterThanOrEqual(before + 1200_000);
    expect(activation).toBeLessThan(Date.now() + 1200_000);

    const again = await cli(['keys', 'rotate']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`A rotation is already scheduled: key ${m![1]} signs from`);

    const emergency = await cli(['keys', 'rotate', '--immediate']);
    expect(emergency.code, emergency.stderr).toBe(0);
    expect(emergency.stdout).toMatch(new RegExp(`^key [\\w-]{43} signing now; ${m![3]} retired now and stays published until its tokens expire; scheduled key ${m![1]} withdrawn\\n$`));

    const events = await db.sql`SELECT actor_id, details FROM audit_events WHERE type = 'keys.rotated' ORDER BY at`;
    expect(events.map((e) => [e.actor_id, e.details.via, e.details.immediate])).toEqual([
      [null, 'cli', true],
      [null, 'cli', false],
      [null, 'cli', true],
    ]);
    expect(events[2]!.details.withdrawn).toBe(m![1]);
    const [open] = await db.sql`SELECT count(*)::int AS n FROM signing_keys WHERE retired_at IS NULL`;
    expect(open!.n).toBe(1);
  }, 60_000);
});
