/**
 * loadConfig() with injected environments and an injected file reader: no
 * process.env and no disk.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoWorkers, loadConfig, parseEncryptionKey } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import { withEmbeddedDefaults } from '../src/wire.ts';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 1));
const KEY_B64 = KEY.toString('base64');
const KEY_HEX = KEY.toString('hex');

/** A reader that fails the test if it is ever used. */
const noFiles = (p: string): string => {
  throw new Error(`unexpected read of ${p}`);
};

/** Runs loadConfig and returns the ConfigError it must throw. */
function configError(env: Record<string, string>, readFile: (p: string) => string = noFiles): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env, readFile);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).code).toBe('config_invalid');
  return caught as ConfigError;
}

describe('loadConfig defaults', () => {
  it('uses safe local defaults for an empty environment', () => {
    const c = loadConfig({}, noFiles);
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe(path.resolve('./.custos'));
    expect(path.isAbsolute(c.dataDir)).toBe(true);
    expect(c.publicUrl).toBe('http://127.0.0.1:8080');
    expect(c.env).toBe('development');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.tls).toBeUndefined();
    expect(c.trustProxy).toBeUndefined();
    // Development on the embedded database: the key is generated later, not required here.
    expect(c.encryptionKey).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect(c.sessionTtlSeconds).toBe(900);
    expect(c.dbPoolMax).toBe(10);
  });

  it('derives the public URL from HOST and PORT, and honours CUSTOS_PUBLIC_URL without its trailing slash', () => {
    expect(loadConfig({ PORT: '9000' }, noFiles).publicUrl).toBe('http://127.0.0.1:9000');
    expect(loadConfig({ HOST: '::1', PORT: '9000' }, noFiles).publicUrl).toBe('http://[::1]:9000');
    expect(loadConfig({ CUSTOS_PUBLIC_URL: 'https://custos.example.org/' }, noFiles).publicUrl).toBe('https://custos.example.org');
  });

  it('resolves CUSTOS_DATA_DIR to an absolute path', () => {
    expect(loadConfig({ CUSTOS_DATA_DIR: 'some/dir' }, noFiles).dataDir).toBe(path.resolve('some/dir'));
  });
});

describe('transmission security', () => {
  it('refuses HOST=0.0.0.0 without TLS or a trusted proxy, naming what to set', () => {
    const err = configError({ HOST: '0.0.0.0' });
    expect(err.message).toContain('CUSTOS_TLS_CERT_FILE');
    expect(err.message).toContain('CUSTOS_TRUST_PROXY');
    expect(err.message).toContain('0.0.0.0');
  });

  it.each(['::', '192.168.1.10', 'custos.internal'])('refuses the non-loopback HOST=%s without TLS', (host) => {
    configError({ HOST: host });
  });

  it.each(['127.0.0.1', '127.0.0.2', 'localhost', '::1'])('accepts the loopback HOST=%s without TLS', (host) => {
    expect(loadConfig({ HOST: host }, noFiles).host).toBe(host);
  });

  it('accepts HOST=0.0.0.0 behind a named TLS-terminating proxy', () => {
    const c = loadConfig({ HOST: '0.0.0.0', CUSTOS_TRUST_PROXY: '10.0.0.1' }, noFiles);
    expect(c.host).toBe('0.0.0.0');
    expect(c.trustProxy).toBe('10.0.0.1');
    expect(c.tls).toBeUndefined();
  });

  it('accepts HOST=0.0.0.0 with both TLS files, and then advertises https', () => {
    const c = loadConfig({ HOST: '0.0.0.0', CUSTOS_TLS_CERT_FILE: '/tls/cert.pem', CUSTOS_TLS_KEY_FILE: '/tls/key.pem' }, noFiles);
    expect(c.tls).toEqual({ certFile: '/tls/cert.pem', keyFile: '/tls/key.pem' });
    expect(c.publicUrl).toBe('https://0.0.0.0:8080');
  });

  it.each<Record<string, string>>([{ CUSTOS_TLS_CERT_FILE: '/tls/cert.pem' }, { CUSTOS_TLS_KEY_FILE: '/tls/key.pem' }])('refuses only one of the TLS files: %o', (env) => {
    const err = configError(env);
    expect(err.message).toContain('CUSTOS_TLS_CERT_FILE');
    expect(err.message).toContain('CUSTOS_TLS_KEY_FILE');
    // Also with a public HOST: the half-configured TLS is the reported problem.
    configError({ ...env, HOST: '0.0.0.0' });
  });
});

describe('encryption key', () => {
  it('requires a key in production, naming CUSTOS_ENCRYPTION_KEY', () => {
    const err = configError({ CUSTOS_ENV: 'production' });
    expect(err.message).toContain('CUSTOS_ENCRYPTION_KEY');
  });

  it('requires a key with an external DATABASE_URL, even in development', () => {
    const err = configError({ DATABASE_URL: 'postgres://u:p@db.example.org/custos' });
    expect(err.message).toContain('CUSTOS_ENCRYPTION_KEY');
  });

  it.each([
    ['too short (16 bytes, base64)', Buffer.alloc(16, 1).toString('base64')],
    ['too long (33 bytes, base64)', Buffer.alloc(33, 1).toString('base64')],
    ['hex of 31 bytes', Buffer.alloc(31, 1).toString('hex')],
    ['a passphrase', 'correct horse battery staple'],
  ])('refuses a key that is %s', (_label, key) => {
    const err = configError({ CUSTOS_ENCRYPTION_KEY: key });
    expect(err.message).toContain('CUSTOS_ENCRYPTION_KEY');
    expect(err.message).toContain('32 bytes');
    // The message never echoes the key itself.
    expect(err.message).not.toContain(key);
  });

  it('accepts a base64 32-byte key', () => {
    const c = loadConfig({ CUSTOS_ENV: 'production', DATABASE_URL: 'postgres://db/custos', CUSTOS_ENCRYPTION_KEY: KEY_B64 }, noFiles);
    expect(c.encryptionKey).toEqual(KEY);
    expect(c.env).toBe('production');
    expect(c.databaseUrl).toBe('postgres://db/custos');
  });

  it('accepts a hex 32-byte key, upper or lower case', () => {
    expect(loadConfig({ CUSTOS_ENCRYPTION_KEY: KEY_HEX }, noFiles).encryptionKey).toEqual(KEY);
    expect(loadConfig({ CUSTOS_ENCRYPTION_KEY: KEY_HEX.toUpperCase() }, noFiles).encryptionKey).toEqual(KEY);
  });

  it('reads CUSTOS_ENCRYPTION_KEY_FILE through the injected reader (trailing newline allowed)', () => {
    const reads: string[] = [];
    const c = loadConfig({ CUSTOS_ENV: 'production', CUSTOS_ENCRYPTION_KEY_FILE: '/run/secrets/custos-key' }, (p) => {
      reads.push(p);
      return KEY_B64 + '\n';
    });
    expect(reads).toEqual(['/run/secrets/custos-key']);
    expect(c.encryptionKey).toEqual(KEY);
    expect(c.encryptionKeyFile).toBe('/run/secrets/custos-key');
  });

  it('names the key file when it cannot be read or holds a bad key', () => {
    const unreadable = configError({ CUSTOS_ENCRYPTION_KEY_FILE: '/nope' }, () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    });
    expect(unreadable.message).toContain('CUSTOS_ENCRYPTION_KEY_FILE');
    const bad = configError({ CUSTOS_ENCRYPTION_KEY_FILE: '/short' }, () => 'c2hvcnQ=');
    expect(bad.message).toContain('CUSTOS_ENCRYPTION_KEY_FILE');
  });

  it('refuses both a key and a key file', () => {
    const err = configError({ CUSTOS_ENCRYPTION_KEY: KEY_B64, CUSTOS_ENCRYPTION_KEY_FILE: '/run/secrets/custos-key' }, () => KEY_B64);
    expect(err.message).toContain('CUSTOS_ENCRYPTION_KEY');
    expect(err.message).toContain('CUSTOS_ENCRYPTION_KEY_FILE');
  });

  it('parseEncryptionKey decodes both encodings to the same key', () => {
    expect(parseEncryptionKey(` ${KEY_B64} `, 'x')).toEqual(KEY);
    expect(parseEncryptionKey(KEY_HEX, 'x')).toEqual(KEY);
  });
});

describe('invalid values', () => {
  it('refuses PORT=abc, naming PORT', () => {
    const err = configError({ PORT: 'abc' });
    expect(err.message).toMatch(/\bPORT\b/);
  });

  it.each([
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['CUSTOS_ENV', 'staging'],
    ['CUSTOS_LOG_LEVEL', 'verbose'],
    ['CUSTOS_BODY_LIMIT', '1gb'],
    ['CUSTOS_SESSION_TTL_SECONDS', '0'],
    ['CUSTOS_DB_POOL_MAX', '0'],
    ['CUSTOS_PUBLIC_URL', 'not a url'],
    ['CUSTOS_ALLOW_INSECURE_BIND', 'maybe'],
  ])('refuses %s=%s, naming it', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.message).toContain(name);
  });

  it('accepts PORT=0 (any free port)', () => {
    expect(loadConfig({ PORT: '0' }, noFiles).port).toBe(0);
  });
});

describe('policy administration limits', () => {
  it('have defaults, parsed once, and can be lowered', () => {
    const noFiles = () => {
      throw new Error('no files');
    };
    const d = loadConfig({}, noFiles).policyLimits;
    expect(d).toEqual({
      condition: { maxCost: 1_000_000, maxElements: 1_000_000 },
      tests: { maxFiles: 50, maxCases: 500, maxColumns: 2000, maxBytes: 1_048_576 },
      check: { timeoutMs: 5000, maxMemoryMb: 256, workers: 2 },
      simulationMaxWindowSeconds: 2_678_400,
    });
    const c = loadConfig({ CUSTOS_POLICY_CONDITION_MAX_COST: '200000', CUSTOS_POLICY_TESTS_MAX_CASES: '20', CUSTOS_POLICY_CHECK_WORKERS: '1', CUSTOS_POLICY_SIMULATION_MAX_WINDOW_SECONDS: '86400' }, noFiles).policyLimits;
    expect(c).toMatchObject({ condition: { maxCost: 200_000 }, tests: { maxCases: 20 }, check: { workers: 1 }, simulationMaxWindowSeconds: 86_400 });
    expect(() => loadConfig({ CUSTOS_POLICY_CHECK_WORKERS: '0' }, noFiles)).toThrow(/CUSTOS_POLICY_CHECK_WORKERS/);
    // A check worker's heap has a floor: far below it V8 aborts the whole process as the thread starts.
    expect(() => loadConfig({ CUSTOS_POLICY_CHECK_MAX_MEMORY_MB: '15' }, noFiles)).toThrow(/CUSTOS_POLICY_CHECK_MAX_MEMORY_MB/);
    expect(loadConfig({ CUSTOS_POLICY_CHECK_MAX_MEMORY_MB: '16' }, noFiles).policyLimits.check.maxMemoryMb).toBe(16);
    expect(() => loadConfig({ CUSTOS_POLICY_CONDITION_MAX_COST: 'lots' }, noFiles)).toThrow(/CUSTOS_POLICY_CONDITION_MAX_COST/);
  });
});

describe('the embedded database defaults', () => {
  it('put the anchor file beside the data for the server and the CLI alike, unless one is configured, and only for the embedded database', () => {
    const dev = loadConfig({ CUSTOS_DATA_DIR: '/srv/custos-data' }, noFiles);
    expect(withEmbeddedDefaults(dev, true).audit.anchorFile).toBe(path.join('/srv/custos-data', 'audit-anchors.jsonl'));
    expect(withEmbeddedDefaults(dev, false).audit.anchorFile).toBeUndefined();
    const configured = loadConfig({ CUSTOS_AUDIT_ANCHOR_FILE: '/mnt/worm/a.jsonl' }, noFiles);
    expect(withEmbeddedDefaults(configured, true).audit.anchorFile).toBe('/mnt/worm/a.jsonl');
  });
});

describe('CUSTOS_WORKERS=auto', () => {
  it('leaves a core to a database on this machine, and takes every core when it is elsewhere', () => {
    for (const local of [undefined, 'postgres://custos:pw@localhost:5432/custos', 'postgres://custos@127.0.0.1/custos', 'postgres://custos@127.0.0.2:6432/custos', 'postgres://custos@[::1]:5432/custos', 'postgres:///custos', 'postgres:///custos?host=/var/run/postgresql', 'postgres://custos:pw@%2Fvar%2Frun%2Fpostgresql/custos']) {
      expect(autoWorkers(8, local), String(local)).toBe(7);
    }
    for (const remote of ['postgres://custos:pw@db.internal:5432/custos', 'postgres://custos@10.0.0.5/custos', 'postgres://custos@[2001:db8::1]/custos', 'postgres://custos@127.example.org/custos', 'postgres://custos@h1:5432,h2:5432/custos', 'postgres://custos@db.internal/custos?host=db2.internal', 'postgres://custos@%E0%A4%A/custos', 'not a url']) {
      expect(autoWorkers(8, remote), remote).toBe(8);
    }
  });

  it('never goes below one worker', () => {
    expect(autoWorkers(1, undefined)).toBe(1);
    expect(autoWorkers(2, undefined)).toBe(1);
    expect(autoWorkers(1, 'postgres://custos@db.internal/custos')).toBe(1);
  });

  it('is the default, and a number overrides it', () => {
    const cores = availableParallelism();
    expect(loadConfig({}, noFiles).workers).toBe(Math.max(1, cores - 1));
    expect(loadConfig({ DATABASE_URL: 'postgres://custos@db.internal/custos', CUSTOS_ENCRYPTION_KEY: KEY_B64 }, noFiles).workers).toBe(cores);
    expect(loadConfig({ CUSTOS_WORKERS: '3' }, noFiles).workers).toBe(3);
  });
});
