/**
 * The secrets-at-rest key: configured, or generated once into the data folder
 * (development on the embedded database only).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveEncryptionKey } from '../../src/crypto/encryptionKey.ts';
import { ConfigError } from '../../src/errors.ts';

const dirs: string[] = [];

async function tmpdir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-key-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('resolveEncryptionKey', () => {
  it('generates a 32-byte key into encryption.key with mode 0600 and says so', async () => {
    const dir = await tmpdir();
    const file = path.join(dir, 'encryption.key');
    const r = await resolveEncryptionKey(undefined, dir);

    expect(r.key).toBeInstanceOf(Buffer);
    expect(r.key).toHaveLength(32);
    expect(r.generatedFile).toBeTruthy();
    expect(r.generatedFile).toBe(file);
    expect(r.file).toBe(file);

    const st = await stat(file);
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    // Stored base64, decoding to exactly the returned key.
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')).toEqual(r.key);
  });

  it('returns the same key on the next call, without generatedFile', async () => {
    const dir = await tmpdir();
    const first = await resolveEncryptionKey(undefined, dir);
    const second = await resolveEncryptionKey(undefined, dir);
    expect(second.key).toEqual(first.key);
    expect(second.generatedFile).toBeUndefined();
    expect(second.file).toBe(path.join(dir, 'encryption.key'));
  });

  it('creates a missing data folder', async () => {
    const dir = path.join(await tmpdir(), 'nested', 'data');
    const r = await resolveEncryptionKey(undefined, dir);
    expect(r.key).toHaveLength(32);
    expect((await stat(path.join(dir, 'encryption.key'))).mode & 0o777).toBe(0o600);
  });

  it('generates a different key per data folder', async () => {
    const a = await resolveEncryptionKey(undefined, await tmpdir());
    const b = await resolveEncryptionKey(undefined, await tmpdir());
    expect(a.key.equals(b.key)).toBe(false);
  });

  it('concurrent first calls agree on one key', async () => {
    const dir = await tmpdir();
    const results = await Promise.all(Array.from({ length: 5 }, () => resolveEncryptionKey(undefined, dir)));
    for (const r of results) expect(r.key).toEqual(results[0]!.key);
    expect(results.filter((r) => r.generatedFile).length).toBe(1);
    expect(Buffer.from((await readFile(path.join(dir, 'encryption.key'), 'utf8')).trim(), 'base64')).toEqual(results[0]!.key);
  });

  it('returns a configured key as-is and writes nothing', async () => {
    const dir = await tmpdir();
    const configured = randomBytes(32);
    const r = await resolveEncryptionKey(configured, dir);
    expect(r.key).toBe(configured);
    expect(r.generatedFile).toBeUndefined();
    expect(r.file).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  it('does not create the data folder when a key is configured', async () => {
    const dir = path.join(await tmpdir(), 'absent');
    await resolveEncryptionKey(randomBytes(32), dir);
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a corrupt key file instead of replacing it', async () => {
    const dir = await tmpdir();
    const file = path.join(dir, 'encryption.key');
    await writeFile(file, 'not a key\n', { mode: 0o600 });
    await expect(resolveEncryptionKey(undefined, dir)).rejects.toBeInstanceOf(ConfigError);
    expect(await readFile(file, 'utf8')).toBe('not a key\n');
  });
});
