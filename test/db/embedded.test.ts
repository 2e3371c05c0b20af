/**
 * The embedded PostgreSQL as root (how `npm start` and the tests run here):
 * a data folder the `postgres` user cannot reach stops start-up with one
 * sentence saying what to do (not an unhandled `spawn … EACCES`), and the
 * superuser password is never in a file others can read, not even while
 * initdb runs.
 */
import { watch } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, startEmbeddedPostgres, untraversableFolder } from '../../src/db/embedded.ts';
import { freePort } from '../support/net.ts';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'custos-embedded-'));
  await chmod(base, 0o711);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('untraversableFolder', () => {
  const nobody = { uid: 65534, gid: 65534 };

  it('names the first folder on the way that the user cannot enter', async () => {
    const closed = path.join(base, 'closed');
    await mkdir(path.join(closed, 'inner'), { recursive: true });
    await chmod(closed, 0o700);
    expect(await untraversableFolder(path.join(closed, 'inner', 'data'), nobody)).toBe(closed);
  });

  it('passes folders others may traverse, and folders not made yet', async () => {
    const open = path.join(base, 'open');
    await mkdir(path.join(open, 'inner'), { recursive: true });
    await chmod(open, 0o711);
    expect(await untraversableFolder(path.join(open, 'inner', 'not-yet', 'data'), nobody)).toBeUndefined();
  });

  it('reads the owner bits for the owner and the group bits for the group', async () => {
    const mine = path.join(base, 'mine');
    await mkdir(mine);
    await chmod(mine, 0o700);
    const s = await stat(mine);
    expect(await untraversableFolder(mine, { uid: s.uid, gid: 65534 })).toBeUndefined();
    await chmod(mine, 0o710);
    expect(await untraversableFolder(mine, { uid: 65534, gid: s.gid })).toBeUndefined();
    await chmod(mine, 0o701);
    expect(await untraversableFolder(mine, { uid: 65534, gid: s.gid })).toBe(mine);
  });
});

describe('startEmbeddedPostgres as root', () => {
  it('runs as root here, as in CI (the cases below are about root)', () => {
    expect(process.getuid?.()).toBe(0);
  });

  it('stops with one sentence saying what to do when the postgres user cannot reach the data folder', async () => {
    const privateHome = path.join(base, 'home');
    await mkdir(privateHome);
    await chmod(privateHome, 0o700);
    const dir = path.join(privateHome, 'custos', '.custos');
    const started = startEmbeddedPostgres({ dir, port: await freePort() });
    await expect(started).rejects.toBeInstanceOf(EmbeddedPostgresError);
    await expect(started).rejects.toThrow(`cannot enter ${privateHome}`);
    await expect(started).rejects.toThrow(`chmod o+x ${privateHome}`);
    // Nothing was made or spawned below the folder it cannot reach.
    expect(await readdir(privateHome)).toEqual([]);
  });

  it('never writes the superuser password where others could read it, even during initdb', async () => {
    const dir = path.join(base, 'fresh');
    const tmp = path.join(base, 'tmp');
    await mkdir(tmp);
    const seen: string[] = [];
    const watchers = [watch(tmp, (_e, f) => seen.push(`tmp/${f}`))];
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    let stop: (() => Promise<void>) | undefined;
    try {
      await mkdir(dir);
      watchers.push(
        watch(dir, (_e, f) => {
          if (!f || f === 'pg') return;
          seen.push(`dir/${f}`);
          // Whatever appears beside the cluster is readable by its owner alone.
          stat(path.join(dir, f)).then(
            (s) => s.mode & 0o077 && seen.push(`world-or-group-readable:${f}:${(s.mode & 0o777).toString(8)}`),
            () => {},
          );
        }),
      );
      const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
      stop = pg.stop;
    } finally {
      process.env.TMPDIR = savedTmp;
      if (savedTmp === undefined) delete process.env.TMPDIR;
      for (const w of watchers) w.close();
      await stop?.();
    }
    expect(seen.filter((s) => s.startsWith('tmp/'))).toEqual([]);
    expect(seen.filter((s) => s.startsWith('world-or-group-readable'))).toEqual([]);
    expect((await stat(path.join(dir, 'pg-password'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'pg'))).mode & 0o777).toBe(0o700);
  });
});
