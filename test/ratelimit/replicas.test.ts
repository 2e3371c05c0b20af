/**
 * The rate limit holds across replicas: two real server processes
 * (`node src/main.ts`) on one database. Client A hammers both at once for
 * five seconds; its combined accepted rate stays within its limit (±10 %),
 * because both processes lease from the same bucket in PostgreSQL. Client
 * B, asking at a modest rate at the same time through both, has every
 * request accepted: A's refusals are A's alone.
 */
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { basicAuth } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { faultWorld, type FaultWorld } from '../support/faults.ts';
import { startServer, type ServerProcess } from '../support/servers.ts';

/** Client A's limit: 40 decisions a second, at most 10 at once (a lease is 4). */
const RATE = 40;
const BURST = 10;
const SECONDS = 5;

let db: TestDatabase;
let world: FaultWorld;
let clientB: string;
const servers: ServerProcess[] = [];
// A timeout of its own makes the agent honour the server's Keep-Alive hint (bench/soak/load.ts).
const agent = new Agent({ keepAlive: true, maxSockets: 16, timeout: 60_000 });

beforeAll(async () => {
  db = await createTestDatabase();
  world = await faultWorld(db);
  const c = world.wired.catalog;
  const b = (await c.createPrincipal({ kind: 'service', name: 'other-server', sponsor_id: world.scientist, project_id: 'onc' })).id;
  await c.assignRole({ principal_id: b, role_id: 'enforcement-point', project_id: null }, null);
  const cred = await createClientCredential(world.wired.catalogOps, { principalId: b, actorId: world.scientist, meta: { ip: undefined, requestId: undefined } });
  clientB = basicAuth(cred.client_id, cred.client_secret!);
  // One process each; every client here comes from 127.0.0.1, so the address limit is set out of the way.
  const env = {
    CUSTOS_WORKERS: '1',
    CUSTOS_DB_POOL_MAX: '4',
    CUSTOS_POLICY_RELOAD_SECONDS: '3600',
    CUSTOS_MONITORING: 'false',
    CUSTOS_RATE_LIMIT_SERVICE: `${RATE}:${BURST}`,
    CUSTOS_RATE_LIMIT_ADDRESS: '100000:100000',
  };
  servers.push(...(await Promise.all([0, 1].map(() => startServer(db, { env, ready: 'custos is listening', timeoutMs: 45_000 })))));
}, 90_000);

afterAll(async () => {
  agent.destroy();
  for (const s of servers) s.kill();
  await Promise.all(servers.map((s) => s.exited));
  await db?.drop();
});

/** One decision request: its status (0: no answer). */
function decide(url: string, auth: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${url}/v1/decisions`, { method: 'POST', agent, headers: { authorization: auth, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', () => resolve(0));
    req.end(world.decisionBody);
  });
}

describe('rate limits across two replicas', () => {
  it("one client's combined rate over both stays within its limit (±10 %); another client is unaffected", async () => {
    const a = { ok: 0, refused: 0, other: [] as number[] };
    const b: number[] = [];
    const started = performance.now();
    const end = started + SECONDS * 1000;
    // Client A: four callers on each replica, as fast as they are answered.
    const hammer = Array.from({ length: 8 }, async (_, i) => {
      while (performance.now() < end) {
        const status = await decide(servers[i % 2]!.url, world.auth);
        if (status === 200) a.ok++;
        else if (status === 429) a.refused++;
        else a.other.push(status);
      }
    });
    // Client B: ten a second, alternating between the replicas.
    const modest = (async () => {
      for (let i = 0; performance.now() < end; i++) {
        const next = started + i * 100;
        if (next > performance.now()) await new Promise((r) => setTimeout(r, next - performance.now()));
        b.push(await decide(servers[i % 2]!.url, clientB));
      }
    })();
    await Promise.all([...hammer, modest]);
    const seconds = (performance.now() - started) / 1000;

    expect(a.other).toEqual([]);
    // A asked for far more than its limit, and was refused the rest.
    expect(a.refused).toBeGreaterThan(a.ok);
    const limit = RATE * seconds + BURST;
    expect(a.ok, `A accepted ${a.ok} in ${seconds.toFixed(2)} s against a limit of ${limit.toFixed(0)}`).toBeGreaterThanOrEqual(limit * 0.9);
    expect(a.ok, `A accepted ${a.ok} in ${seconds.toFixed(2)} s against a limit of ${limit.toFixed(0)}`).toBeLessThanOrEqual(limit * 1.1);
    // B: every request accepted, through both replicas.
    expect(b.length).toBeGreaterThanOrEqual(SECONDS * 10 - 2);
    expect(b.filter((s) => s !== 200)).toEqual([]);
    for (const s of servers) expect(s.out()).not.toMatch(/uncaught|TypeError|unhandled/i);
  }, 30_000);
});
