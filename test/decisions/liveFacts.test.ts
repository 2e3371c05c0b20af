/**
 * The facts in memory against a scripted source: when memory is trusted,
 * what a notification re-reads, that lookups wait for a re-read, and that
 * every loss of the listener (or failed read) sends lookups to the database
 * until a whole image has been read again.
 */
import { describe, expect, it, vi } from 'vitest';
import type { DatasetRecord, PrincipalRecord } from '../../src/decisions/buildFacts.ts';
import type { FactsStore } from '../../src/decisions/facts.ts';
import { LiveFacts, type CatalogImage, type CatalogKeys, type CatalogSource } from '../../src/decisions/liveFacts.ts';
import type { BaaFacts, GrantFacts } from '../../src/engine/types.ts';

const NOW = new Date(Date.UTC(2026, 5, 1, 12));
const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const SVC = '00000000-0000-4000-8000-0000000000c0';

function person(id: string, o: Partial<PrincipalRecord> = {}): PrincipalRecord {
  return { id, kind: 'user', status: 'active', projectId: null, vendorId: null, sponsorId: null, attributes: {}, roles: [], grants: [], ...o };
}

function dataset(id: string, o: Partial<DatasetRecord> = {}): DatasetRecord {
  return { id, project: 'onc', owner: A, purposes: ['research'], columns: [{ name: 'age' }], expertDetermination: null, dataUseAgreement: null, audience: null, ...o };
}

function baa(id: string, expiresOn: string): BaaFacts {
  return { id, effectiveOn: '2026-01-01', expiresOn, purposes: ['research'], classifications: ['deidentified'] };
}

/** The database as the source sees it: edit `rows`, then notify. Reads can be held open. */
class FakeSource implements CatalogSource {
  rows: CatalogImage = { principals: new Map(), baas: new Map(), datasets: new Map() };
  loads: CatalogKeys[] = [];
  images = 0;
  hold: Promise<void> | undefined;
  holdImage: Promise<void> | undefined;
  failNext: 'image' | 'keys' | undefined;

  async loadAll(): Promise<CatalogImage> {
    this.images++;
    const snapshot = this.copy();
    await this.hold;
    await this.holdImage;
    if (this.failNext === 'image') {
      this.failNext = undefined;
      throw new Error('image read failed');
    }
    return snapshot;
  }

  async load(keys: CatalogKeys): Promise<CatalogImage> {
    this.loads.push(keys);
    await this.hold;
    if (this.failNext === 'keys') {
      this.failNext = undefined;
      throw new Error('key read failed');
    }
    const out: CatalogImage = { principals: new Map(), baas: new Map(), datasets: new Map() };
    for (const id of keys.principals) if (this.rows.principals.has(id)) out.principals.set(id, this.rows.principals.get(id)!);
    for (const id of keys.vendors) if (this.rows.baas.has(id)) out.baas.set(id, this.rows.baas.get(id)!);
    for (const id of keys.datasets) if (this.rows.datasets.has(id)) out.datasets.set(id, this.rows.datasets.get(id)!);
    return out;
  }

  private copy(): CatalogImage {
    return { principals: new Map(this.rows.principals), baas: new Map(this.rows.baas), datasets: new Map(this.rows.datasets) };
  }
}

/** The database read directly: tagged so a test can tell which path answered. */
function fallbackStore(): FactsStore & { calls: number } {
  const store = {
    calls: 0,
    async principal(id: string) {
      store.calls++;
      return { id, kind: 'user', status: 'active', projects: ['from-database'], vendorId: null, baas: [], attributes: {}, roles: [], grants: [] } as const;
    },
    async dataset(id: string) {
      store.calls++;
      return { id, project: 'from-database', owner: A, classification: 'deidentified', purposes: [], columns: [], audience: '' } as const;
    },
  };
  return store as unknown as FactsStore & { calls: number };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

/** A trusted LiveFacts over a source holding `rows`. */
async function trusted(setup: (s: FakeSource) => void = () => {}) {
  const source = new FakeSource();
  source.rows.principals.set(A, person(A, { projectId: 'onc' }));
  source.rows.datasets.set('d1', dataset('d1'));
  setup(source);
  const db = fallbackStore();
  const errors: string[] = [];
  const facts = new LiveFacts(source, db, { now: () => NOW, retryMs: 5, onError: (_e, what) => errors.push(what) });
  facts.listeningStarted();
  await settle();
  expect(facts.isTrusted).toBe(true);
  return { source, db, facts, errors };
}

describe('facts in memory', () => {
  it('reads the database, never memory, until the listener is in force and the image read', async () => {
    const source = new FakeSource();
    source.rows.principals.set(A, person(A, { projectId: 'onc' }));
    const db = fallbackStore();
    const facts = new LiveFacts(source, db, { now: () => NOW });
    expect((await facts.principal(A, NOW))!.projects).toEqual(['from-database']);
    expect(source.images).toBe(0);
    let release!: () => void;
    source.hold = new Promise((r) => (release = r));
    facts.listeningStarted();
    // Image being read: still the database.
    expect((await facts.principal(A, NOW))!.projects).toEqual(['from-database']);
    release();
    await settle();
    expect((await facts.principal(A, NOW))!.projects).toEqual(['onc']);
    expect(facts.stats).toMatchObject({ misses: 2, hits: 1, resyncs: 1 });
  });

  it('answers from memory once trusted: an unknown id is unknown without asking the database', async () => {
    const { facts, db } = await trusted();
    expect((await facts.principal(A, NOW))!.projects).toEqual(['onc']);
    expect(await facts.principal(B, NOW)).toBeUndefined();
    expect((await facts.dataset('d1', NOW))!.classification).toBe('deidentified');
    expect(await facts.dataset('nope', NOW)).toBeUndefined();
    expect(db.calls).toBe(0);
    expect(facts.stats).toMatchObject({ hits: 4, unknown: 2, misses: 0 });
  });

  it('re-reads only the key a notification names, and the next lookup sees the change', async () => {
    const { facts, source } = await trusted();
    source.rows.principals.set(A, person(A, { status: 'disabled', projectId: 'onc' }));
    source.rows.principals.set(B, person(B));
    facts.notified(`principals:${A}`);
    expect((await facts.principal(A, NOW))!.status).toBe('disabled');
    expect(source.loads).toEqual([{ principals: [A], vendors: [], datasets: [] }]);
    // B was never notified: still unknown in memory, though the database has it.
    expect(await facts.principal(B, NOW)).toBeUndefined();
  });

  it('maps each table to its key: role assignments and grants to the principal, BAAs to the vendor', async () => {
    const { facts, source } = await trusted();
    facts.notified(`role_assignments:${A}`);
    facts.notified(`grants:${B}`);
    facts.notified('baas:acme');
    facts.notified('datasets:d1');
    await facts.principal(A, NOW);
    expect(source.loads).toEqual([{ principals: [A, B], vendors: ['acme'], datasets: ['d1'] }]);
  });

  it('ignores tables it holds nothing of (sessions, roles) and removes deleted rows', async () => {
    const { facts, source } = await trusted();
    facts.notified('sessions');
    facts.notified('roles');
    facts.notified(`sessions:${A}`);
    await settle();
    expect(source.loads).toEqual([]);
    expect(source.images).toBe(1);
    source.rows.datasets.delete('d1');
    facts.notified('datasets:d1');
    expect(await facts.dataset('d1', NOW)).toBeUndefined();
  });

  it('makes a lookup wait while its key is read again', async () => {
    const { facts, source } = await trusted();
    let release!: () => void;
    source.hold = new Promise((r) => (release = r));
    source.rows.principals.set(A, person(A, { status: 'disabled' }));
    facts.notified(`principals:${A}`);
    let answered: string | undefined;
    const lookup = facts.principal(A, NOW).then((p) => (answered = p!.status));
    await settle();
    expect(answered).toBeUndefined();
    release();
    await lookup;
    expect(answered).toBe('disabled');
    expect(facts.stats.waits).toBe(1);
  });

  it('reads a key notified during a read again afterwards (a change that raced the first read is not lost)', async () => {
    const { facts, source } = await trusted();
    let release!: () => void;
    source.hold = new Promise((r) => (release = r));
    facts.notified(`principals:${A}`);
    await settle();
    // Committed after the first read took its rows.
    source.rows.principals.set(A, person(A, { attributes: { level: 2 } }));
    facts.notified(`principals:${A}`);
    release();
    expect((await facts.principal(A, NOW))!.attributes).toEqual({ level: 2 });
    expect(source.loads).toHaveLength(2);
  });

  it('trusts nothing from the moment the listener is lost, and reads a whole image when it is back', async () => {
    const { facts, source, db } = await trusted();
    facts.listeningLost();
    expect(facts.isTrusted).toBe(false);
    expect((await facts.principal(A, NOW))!.projects).toEqual(['from-database']);
    // Changes while away are never notified; the image read on return has them.
    source.rows.principals.set(A, person(A, { projectId: 'cardio' }));
    facts.listeningStarted();
    await settle();
    expect((await facts.principal(A, NOW))!.projects).toEqual(['cardio']);
    expect(db.calls).toBe(1);
    expect(facts.stats).toMatchObject({ losses: 1, resyncs: 2 });
  });

  it('discards a read that finishes after the listener was lost', async () => {
    const { facts, source } = await trusted();
    let release!: () => void;
    source.hold = new Promise((r) => (release = r));
    source.rows.principals.set(A, person(A, { status: 'disabled' }));
    facts.notified(`principals:${A}`);
    const lookup = facts.principal(A, NOW);
    facts.listeningLost();
    release();
    // The waiting lookup goes to the database, not to the late read.
    expect((await lookup)!.projects).toEqual(['from-database']);
    expect(facts.isTrusted).toBe(false);
  });

  it('re-reads keys notified while an image was being read', async () => {
    const source = new FakeSource();
    const facts = new LiveFacts(source, fallbackStore(), { now: () => NOW });
    let release!: () => void;
    source.hold = new Promise((r) => (release = r));
    facts.listeningStarted();
    source.rows.principals.set(A, person(A, { projectId: 'late' }));
    facts.notified(`principals:${A}`);
    release();
    await settle();
    expect((await facts.principal(A, NOW))!.projects).toEqual(['late']);
    expect(source.loads).toEqual([{ principals: [A], vendors: [], datasets: [] }]);
  });

  it('ends trust when a key cannot be read, and recovers by reading the whole image', async () => {
    const { facts, source, errors } = await trusted();
    source.failNext = 'keys';
    let release!: () => void;
    source.holdImage = new Promise((r) => (release = r));
    facts.notified(`principals:${A}`);
    const p = await facts.principal(A, NOW);
    expect(p!.projects).toEqual(['from-database']);
    expect(errors).toEqual(['keys']);
    release();
    await settle();
    expect(facts.isTrusted).toBe(true);
    expect(source.images).toBe(2);
  });

  it('retries a failed image read and stays on the database until one succeeds', async () => {
    const source = new FakeSource();
    source.failNext = 'image';
    const errors: string[] = [];
    const facts = new LiveFacts(source, fallbackStore(), { now: () => NOW, retryMs: 5, onError: (_e, what) => errors.push(what) });
    facts.listeningStarted();
    await settle();
    expect(facts.isTrusted).toBe(false);
    await vi.waitFor(() => expect(facts.isTrusted).toBe(true));
    expect(errors).toEqual(['image']);
    expect(source.images).toBe(2);
  });

  it('reads the whole image instead of too many keys, and on a statement without keys (TRUNCATE)', async () => {
    const source = new FakeSource();
    const facts = new LiveFacts(source, fallbackStore(), { now: () => NOW, maxPendingKeys: 2 });
    facts.listeningStarted();
    await settle();
    for (const id of ['a', 'b', 'c']) facts.notified(`datasets:${id}`);
    expect(facts.isTrusted).toBe(false);
    await settle();
    expect(source.images).toBe(2);
    expect(source.loads).toEqual([]);
    facts.notified('grants');
    expect(facts.isTrusted).toBe(false);
    await settle();
    expect(source.images).toBe(3);
  });

  it('composes a service with its sponsor, and follows a change of the sponsor alone', async () => {
    const { facts, source } = await trusted((s) => {
      s.rows.principals.set(SVC, person(SVC, { kind: 'service', sponsorId: A }));
    });
    expect((await facts.principal(SVC, NOW))!.sponsor!.status).toBe('active');
    source.rows.principals.set(A, person(A, { status: 'disabled' }));
    facts.notified(`principals:${A}`);
    expect((await facts.principal(SVC, NOW))!.sponsor!.status).toBe('disabled');
  });

  it("follows a vendor's BAAs into every principal of the vendor", async () => {
    const { facts, source } = await trusted((s) => {
      s.rows.principals.set(B, person(B, { vendorId: 'acme' }));
      s.rows.baas.set('acme', [baa('b1', '2027-01-01')]);
    });
    expect((await facts.principal(B, NOW))!.baas.map((b) => b.expiresOn)).toEqual(['2027-01-01']);
    source.rows.baas.set('acme', [baa('b1', '2026-05-01')]);
    facts.notified('baas:acme');
    expect((await facts.principal(B, NOW))!.baas.map((b) => b.expiresOn)).toEqual(['2026-05-01']);
    source.rows.baas.delete('acme');
    facts.notified('baas:acme');
    expect((await facts.principal(B, NOW))!.baas).toEqual([]);
  });

  it("derives a dataset's classification on the lookup's day (an expert determination expires at midnight UTC)", async () => {
    const { facts } = await trusted((s) => {
      s.rows.datasets.set('ed', dataset('ed', { columns: [{ name: 'mrn', category: 'mrn' }], expertDetermination: { determinedOn: '2026-01-01', expiresOn: '2026-06-02' } }));
    });
    expect((await facts.dataset('ed', NOW))!.classification).toBe('deidentified');
    expect((await facts.dataset('ed', new Date(Date.UTC(2026, 5, 1, 23, 59, 59))))!.classification).toBe('deidentified');
    expect((await facts.dataset('ed', new Date(Date.UTC(2026, 5, 2))))!.classification).toBe('phi');
  });

  it('leaves out grants that ended over a day before the lookup, as the database read does', async () => {
    const grant = (id: string, expiresAt: number): GrantFacts => ({ id, role: 'r', project: null, datasetId: null, notBefore: 0, expiresAt, breakGlass: false });
    const { facts } = await trusted((s) => {
      s.rows.principals.set(B, person(B, { grants: [grant('g1', NOW.getTime() - 3600_000), grant('g2', NOW.getTime() + 3600_000)] }));
    });
    expect((await facts.principal(B, NOW))!.grants.map((g) => g.id)).toEqual(['g1', 'g2']);
    const later = new Date(NOW.getTime() + 86_400_000);
    expect((await facts.principal(B, later))!.grants.map((g) => g.id)).toEqual(['g2']);
  });
});

describe('the barrier', () => {
  it('resolves when its notification comes back', async () => {
    const { facts } = await trusted();
    const sent: string[] = [];
    let done = false;
    const barrier = facts
      .sync(
        async (p) => void sent.push(p),
        () => {
          throw new Error('not dead');
        },
        1000,
      )
      .then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    expect(sent[0]).toMatch(/^sync:[0-9a-f-]{36}$/);
    facts.notified(sent[0]!);
    await barrier;
    expect(facts.isTrusted).toBe(true);
  });

  it('declares the listener dead and ends trust when its notification does not come back', async () => {
    const { facts } = await trusted();
    const dead = vi.fn();
    await facts.sync(async () => {}, dead, 20);
    expect(dead).toHaveBeenCalledOnce();
    expect(facts.isTrusted).toBe(false);
  });

  it('ends trust when it cannot be sent', async () => {
    const { facts, errors } = await trusted();
    const dead = vi.fn();
    await facts.sync(
      async () => {
        throw new Error('pool down');
      },
      dead,
      1000,
    );
    expect(dead).toHaveBeenCalledOnce();
    expect(facts.isTrusted).toBe(false);
    expect(errors).toEqual(['barrier']);
  });

  it('sends nothing when not listening (lookups read the database anyway)', async () => {
    const facts = new LiveFacts(new FakeSource(), fallbackStore());
    const send = vi.fn(async () => {});
    await facts.sync(send, () => {}, 1000);
    expect(send).not.toHaveBeenCalled();
  });
});
