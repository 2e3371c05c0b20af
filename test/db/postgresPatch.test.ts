/**
 * The patch of postgres.js 3.4.9 (scripts/patch-postgres.mjs, run by
 * `postinstall`) is in force, and does what it is for:
 * - a connection that closes with a write still queued reconnects at once
 *   (unpatched, the stale write blocks every later one: each reconnection
 *   times out, for good);
 * - the first query after a connection was killed mid-query does not fail
 *   with the dead backend's error;
 * - a connection killed while it looks up the array types (the internal
 *   first query of every connection) does not end the process;
 * - the script refuses another version, and does nothing the second time.
 * (A write after the close failing its query instead of throwing:
 * test/db/transaction.test.ts.)
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript module (it runs under whatever Node.js runs npm), without type declarations.
import { patchPostgres } from '../../scripts/patch-postgres.mjs';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/** A backend's ErrorResponse message (protocol 3: 'E', length, fields, a final zero byte). */
function fatal(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeUInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

const PACKAGE = path.dirname(path.dirname(fileURLToPath(import.meta.resolve('postgres'))));

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

describe('the installed postgres.js', () => {
  it('is 3.4.9 with every edit of the patch, in the build Custos loads and the others', () => {
    expect(JSON.parse(readFileSync(path.join(PACKAGE, 'package.json'), 'utf8')).version).toBe('3.4.9');
    for (const file of ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js']) {
      expect(readFileSync(path.join(PACKAGE, file), 'utf8').match(/custos-patch/g), `${file}: run npm install (postinstall) or node scripts/patch-postgres.mjs`).toHaveLength(5);
    }
  });

  it('reconnects at once after a close with a write still queued', async () => {
    const u = new URL(db.url);
    const sockets: Socket[] = [];
    const sql = postgres(db.url, {
      max: 1,
      connect_timeout: 2,
      onnotice: () => {},
      // Sockets of our own, so the test can close one at the worst moment.
      socket: () => {
        const s = connect(Number(u.port), u.hostname);
        sockets.push(s);
        return s;
      },
      // A documented option (a socket factory) the type declarations lack.
    } as unknown as postgres.Options<Record<string, never>>);
    try {
      await sql`SELECT 1`;
      const q = sql`SELECT 2`.execute();
      // The query is written (a few microtasks later) and its write queued for setImmediate...
      for (let i = 0; i < 5; i++) await null;
      // ...when the connection closes, before the write is flushed (as when the server ends it under load).
      sockets[0]!.destroy();
      sockets[0]!.emit('close', false);
      await expect(q).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      const t0 = Date.now();
      const [r] = await sql`SELECT 3 AS three`;
      expect(r!.three).toBe(3);
      // Unpatched: CONNECT_TIMEOUT after 2 s here, and on every later attempt.
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(sockets).toHaveLength(2);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('survives a connection killed while it looks up the array types (the first query of each connection)', async () => {
    const u = new URL(db.url);
    const sockets: Socket[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.prependListener('unhandledRejection', onUnhandled);
    const sql = postgres(db.url, {
      max: 1,
      connect_timeout: 2,
      onnotice: () => {},
      socket: () => {
        const s = connect(Number(u.port), u.hostname);
        if (sockets.length === 0) {
          // The first connection: once it has sent the lookup, the server terminates it (FATAL 57P01, then the close).
          // The lookup never reaches the server, so no answer to it can come first and let the opening query through.
          const write = s.write.bind(s) as (chunk: Buffer, ...rest: unknown[]) => boolean;
          s.write = ((chunk: Buffer, ...rest: unknown[]) => {
            if (!chunk.includes('typcategory')) return write(chunk, ...rest);
            setImmediate(() => {
              s.emit('data', fatal('57P01', 'terminating connection due to administrator command'));
              s.destroy();
              s.emit('close', false);
            });
            return true;
          }) as typeof s.write;
        }
        sockets.push(s);
        return s;
      },
      // A documented option (a socket factory) the type declarations lack.
    } as unknown as postgres.Options<Record<string, never>>);
    try {
      // The query that opened the connection waits for the next one, and is answered there.
      const [r] = await sql`SELECT 1 AS one`;
      expect(r!.one).toBe(1);
      expect(sockets).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 50));
      // Unpatched: the lookup's rejection, unobserved, ends the process.
      expect(unhandled).toEqual([]);
    } finally {
      process.removeListener('unhandledRejection', onUnhandled);
      await sql.end({ timeout: 1 });
    }
  });

  it("does not fail the next query with the killed backend's error", async () => {
    const sql: Sql = createSql({ url: db.url, max: 1 });
    try {
      const [{ pid }] = (await sql`SELECT pg_backend_pid() AS pid`) as unknown as [{ pid: number }];
      const sleeping = sql`SELECT pg_sleep(5)`.catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      await db.admin`SELECT pg_terminate_backend(${pid})`;
      expect(await sleeping).toMatchObject({ code: 'CONNECTION_CLOSED' });
      // Unpatched: this fails with 57P01 (terminating connection due to administrator command), from the old backend.
      const [r] = await sql`SELECT pg_backend_pid() AS pid`;
      expect(r!.pid).not.toBe(pid);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('scripts/patch-postgres.mjs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'custos-pgpatch-'));
    cpSync(PACKAGE, dir, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves a patched copy as it is', () => {
    const before = readFileSync(path.join(dir, 'src/connection.js'), 'utf8');
    expect(patchPostgres(dir)).toEqual(['src/connection.js: already patched', 'cjs/src/connection.js: already patched', 'cf/src/connection.js: already patched']);
    expect(readFileSync(path.join(dir, 'src/connection.js'), 'utf8')).toBe(before);
  });

  it('refuses another version, and text it does not recognise, rather than skipping the patch', () => {
    const pkg = path.join(dir, 'package.json');
    const original = readFileSync(pkg, 'utf8');
    writeFileSync(pkg, original.replace('"version": "3.4.9"', '"version": "3.5.0"'));
    expect(() => patchPostgres(dir)).toThrow(/postgres 3\.5\.0 is installed; .* patches 3\.4\.9 only/);
    writeFileSync(pkg, original);
    const conn = path.join(dir, 'cjs/src/connection.js');
    writeFileSync(conn, readFileSync(conn, 'utf8').replace(/custos-patch/g, 'x').replace('function nextWrite(fn) {', 'function nextWrite(fn, other) {'));
    expect(() => patchPostgres(dir)).toThrow(/cjs\/src\/connection\.js: the text to patch .* was not found once/);
  });
});
