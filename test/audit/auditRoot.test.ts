/**
 * The audit root and its keys: where the root comes from and what a
 * verifier pins; keys from before certificates, certified once and only if
 * they are Custos's own; rotation with its certificate and audit event; the
 * signed webhook outbox as a witness.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditKeys } from '../../src/audit/postgres/auditKeys.ts';
import { CertifiedKeys } from '../../src/audit/postgres/certifiedKeys.ts';
import { AuditRoot, TrustedRoots, type KeyCertificate } from '../../src/audit/rootKey.ts';
import { verifyLogs } from '../../src/audit/postgres/verify.ts';
import { systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { seal } from '../../src/crypto/secretbox.ts';
import { ConfigError } from '../../src/errors.ts';
import { auditTrust } from '../../src/wire.ts';
import { startReceiver, type Receiver } from '../grants/webhookReceiver.ts';
import { startTestApp, TEST_KEY, type TestApp } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const ED25519_PEM = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

describe('the audit root', () => {
  it('is derived from the encryption key by default: the same key gives the same root, another key another', () => {
    const a = AuditRoot.derive(TEST_KEY);
    expect(AuditRoot.derive(Buffer.from(TEST_KEY)).publicKey).toBe(a.publicKey);
    expect(AuditRoot.derive(randomBytes(32)).publicKey).not.toBe(a.publicKey);
    expect(a.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.fingerprint).toBe(createHash('sha256').update(Buffer.from(a.publicKey, 'base64url')).digest('hex'));
  });

  it('comes from CUSTOS_AUDIT_ROOT_KEY_FILE when set, and must be Ed25519', () => {
    const config = loadConfig({ CUSTOS_ENV: 'test', CUSTOS_AUDIT_ROOT_KEY_FILE: '/root.pem' }, () => ED25519_PEM);
    const { root, trust } = auditTrust(config, TEST_KEY);
    expect(root.publicKey).toBe(AuditRoot.fromPem(ED25519_PEM, 'x').publicKey);
    expect(root.publicKey).not.toBe(AuditRoot.derive(TEST_KEY).publicKey);
    expect(trust.list()).toEqual([root.publicKey]);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(() => AuditRoot.fromPem(ec, 'CUSTOS_AUDIT_ROOT_KEY_FILE')).toThrow(/must be an Ed25519 key/);
    expect(() => AuditRoot.fromPem('not a key', 'CUSTOS_AUDIT_ROOT_KEY_FILE')).toThrow(/is not a PEM private key/);
    expect(() => loadConfig({ CUSTOS_ENV: 'test', CUSTOS_AUDIT_ROOT_KEY_FILE: '/missing.pem' }, () => { throw new Error('ENOENT'); })).toThrow(/cannot be read/);
  });

  it('must be among the pinned roots, which are then all verification trusts', () => {
    const own = AuditRoot.derive(TEST_KEY).publicKey;
    const other = AuditRoot.derive(randomBytes(32)).publicKey;
    expect(() => auditTrust(loadConfig({ CUSTOS_ENV: 'test', CUSTOS_AUDIT_ROOT_PUBLIC_KEYS: other }), TEST_KEY)).toThrow(ConfigError);
    const { trust } = auditTrust(loadConfig({ CUSTOS_ENV: 'test', CUSTOS_AUDIT_ROOT_PUBLIC_KEYS: ` ${other} , ${own}` }), TEST_KEY);
    expect(trust.list()).toEqual([other, own]);
    expect(() => new TrustedRoots(['too-short'])).toThrow(/Not an audit root public key/);
    expect(() => new TrustedRoots([])).toThrow(/At least one/);
  });

  it('certificates: accepted only unchanged and by a trusted root', () => {
    const root = AuditRoot.derive(TEST_KEY);
    const trust = new TrustedRoots([root.publicKey]);
    const cert = root.certify({ kid: 'k1', x: 'x'.repeat(43), y: 'y'.repeat(43) }, new Date('2026-01-01T00:00:00Z'));
    expect(trust.accepts(cert)).toBe(true);
    for (const field of ['kid', 'x', 'y', 'created_at'] as const) expect(trust.accepts({ ...cert, [field]: `${cert[field]}z` }), field).toBe(false);
    expect(trust.accepts({ ...cert, v: 2 })).toBe(false);
    expect(trust.accepts(null)).toBe(false);
    const stranger = AuditRoot.derive(randomBytes(32));
    const foreign: KeyCertificate = stranger.certify({ kid: 'k1', x: cert.x, y: cert.y }, new Date());
    expect(trust.accepts(foreign)).toBe(false);
    // Claiming the trusted root's name does not help a signature by another.
    expect(trust.accepts({ ...foreign, root: root.publicKey })).toBe(false);
  });
});

describe('checkpoint keys in the database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('keys from before certificates are certified once, and only those whose private part opens under the encryption key and matches', async () => {
    const legacy = (priv: ReturnType<typeof generateKeyPairSync>['privateKey'], pub: ReturnType<typeof generateKeyPairSync>['publicKey'], sealKey: Buffer) => {
      const jwk = pub.export({ format: 'jwk' }) as { x: string; y: string };
      const kid = createHash('sha256').update(JSON.stringify({ crv: 'P-256', kty: 'EC', x: jwk.x, y: jwk.y })).digest('base64url');
      const pem = Buffer.from(priv.export({ format: 'pem', type: 'pkcs8' }) as string, 'utf8');
      return { kid, jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' }, enc: seal(sealKey, pem, `audit-key:${kid}`) };
    };
    const ours = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const theirs = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const a = legacy(ours.privateKey, ours.publicKey, TEST_KEY);
    const b = legacy(theirs.privateKey, theirs.publicKey, randomBytes(32)); // sealed with another key
    for (const [k, at] of [[a, '2026-01-01'], [b, '2026-01-02']] as const) {
      await db.sql`INSERT INTO audit_keys (kid, public_jwk, private_enc, created_at) VALUES (${k.kid}, ${db.sql.json(k.jwk)}, ${k.enc}, ${at})`;
    }
    const root = AuditRoot.derive(TEST_KEY);
    const keys = new AuditKeys({ sql: db.appSql, encryptionKey: TEST_KEY, clock: systemClock, root, trust: new TrustedRoots([root.publicKey]) });
    const active = await keys.activeCertificate();
    expect(active.kid).toBe(a.kid);
    const certs = await db.sql`SELECT kid FROM audit_key_certificates`;
    expect(certs.map((c) => c.kid)).toEqual([a.kid]);
    const published = (await keys.jwks()).keys;
    expect(published.map((k) => [k.kid, k.certified])).toEqual([
      [a.kid, true],
      [b.kid, false],
    ]);

    // Once certificates exist, a key added later is never certified by a start.
    const late = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const c = legacy(late.privateKey, late.publicKey, TEST_KEY);
    await db.sql`INSERT INTO audit_keys (kid, public_jwk, private_enc, created_at) VALUES (${c.kid}, ${db.sql.json(c.jwk)}, ${c.enc}, now())`;
    const restarted = new AuditKeys({ sql: db.appSql, encryptionKey: TEST_KEY, clock: systemClock, root, trust: new TrustedRoots([root.publicKey]) });
    expect((await restarted.activeCertificate()).kid).toBe(a.kid);
    expect(await db.sql`SELECT kid FROM audit_key_certificates WHERE kid = ${c.kid}`).toEqual([]);
    // The signature made with the certified key verifies; the uncertified one's is refused as such.
    const { kid, signature } = await restarted.sign('payload');
    const verifier = new CertifiedKeys(new TrustedRoots([root.publicKey]), db.appSql);
    expect(await verifier.check(kid, 'payload', signature)).toBe('ok');
    expect(await verifier.check(kid, 'other', signature)).toBe('bad_signature');
    const { sign } = await import('node:crypto');
    const theirSig = sign('sha256', Buffer.from('payload'), { key: createPrivateKey(late.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string), dsaEncoding: 'ieee-p1363' }).toString('base64url');
    expect(await verifier.check(c.kid, 'payload', theirSig)).toBe('uncertified');
  });
});

describe('rotation and the webhook witness', () => {
  let app: TestApp;
  let hooks: Receiver;
  beforeAll(async () => {
    hooks = await startReceiver();
    app = await startTestApp({ CUSTOS_WEBHOOK_URL: hooks.url, CUSTOS_WEBHOOK_SECRET: hooks.secret, CUSTOS_WEBHOOK_RETRY_BASE_SECONDS: '0.05' });
    app.wired.notifier.start();
  });
  afterAll(async () => {
    await app?.wired.notifier.stop();
    await app?.close();
    await hooks?.close();
  });

  it('a rotated key is certified, signs the next checkpoints, and its certificate is anchored with them to the webhook receiver', async () => {
    const keys = app.wired.app.auditLog.keys;
    const before = await keys.activeCertificate();
    await app.wired.audit.record({ type: 'test.event', outcome: 'info', actorId: null, details: {} });
    await app.wired.checkpointer.run();
    const rotated = await app.db.appSql.begin(async (tx) => {
      const cert = await keys.rotate(tx);
      await app.wired.audit.recordIn(tx, { type: 'audit.key_rotated', outcome: 'success', actorId: null, details: { kid: cert.kid } });
      return cert;
    });
    expect(rotated.kid).not.toBe(before.kid);
    expect((await keys.activeCertificate()).kid).toBe(rotated.kid);
    await app.wired.audit.record({ type: 'test.event', outcome: 'info', actorId: null, details: {} });
    await app.wired.checkpointer.run();
    const [last] = await app.db.sql`SELECT kid FROM audit_checkpoints ORDER BY at DESC, cp_seq DESC LIMIT 1`;
    expect(last!.kid).toBe(rotated.kid);
    const published = (await app.call('GET', '/v1/audit/keys')).body.keys;
    expect(published.map((k: { kid: string; certified: boolean }) => [k.kid, k.certified])).toEqual([
      [before.kid, true],
      [rotated.kid, true],
    ]);
    const report = await verifyLogs({ sql: app.db.sql, roots: keys.roots }, { from: new Date('2020-01-01'), to: new Date('2100-01-01') });
    expect(report.ok, JSON.stringify(report.problems)).toBe(true);
    // Both certificates reached the webhook receiver, each before the first anchor it signs, over signed deliveries.
    // Deliveries are sent in parallel and may arrive in any order: wait for both, then read them in the order they were made.
    const anchors: { type: string; certificate?: { kid: string }; kid?: string }[] = [];
    await hooks.waitFor('audit.anchor', () => {
      const deliveries = hooks.received.filter((r) => r.event === 'audit.anchor').sort((x, y) => x.body.created_at.localeCompare(y.body.created_at));
      anchors.splice(0, anchors.length, ...deliveries.flatMap((r) => r.body.data.anchors));
      return [before.kid, rotated.kid].every((kid) => anchors.some((a) => a.type === 'key' && a.certificate!.kid === kid));
    });
    expect(hooks.received.filter((r) => r.event === 'audit.anchor').every((r) => r.signatureValid)).toBe(true);
    for (const kid of [before.kid, rotated.kid]) {
      const certAt = anchors.findIndex((a) => a.type === 'key' && a.certificate!.kid === kid);
      const firstUse = anchors.findIndex((a) => a.type !== 'key' && a.kid === kid);
      expect(certAt).toBeGreaterThanOrEqual(0);
      expect(firstUse).toBeGreaterThan(certAt);
    }
  });
});
