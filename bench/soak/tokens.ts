/**
 * Token requests for the soak: training-job services of the hospital that
 * the oracle allows on some request of the workload get client credentials
 * (created by their sponsors, as the API requires), and each asks for a
 * token for such a request. Only allowed requests are used, so any non-2xx
 * token answer under the soak is a failure, not a denial.
 */
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { loadConfig } from '../../src/config.ts';
import { createSql } from '../../src/db/client.ts';
import { createLogger } from '../../src/logger.ts';
import { wire } from '../../src/wire.ts';
import { oracle, utcToday } from '../hospital/oracle.ts';
import type { World } from '../hospital/world.ts';
import type { SoakCall } from './load.ts';

/** Up to `max` clients, one token request each (the first allowed request of each service). */
export async function tokenCalls(o: { databaseUrl: string; key: string; world: World; max: number }): Promise<SoakCall[]> {
  const today = utcToday();
  const chosen = new Map<string, (typeof o.world.requests)[number]>();
  for (const req of o.world.requests) {
    if (chosen.size >= o.max) break;
    const p = o.world.principal.get(req.principal)!;
    if (p.kind !== 'service' || chosen.has(p.id)) continue;
    if (oracle(o.world, req, today).effect === 'allow') chosen.set(p.id, req);
  }
  if (!chosen.size) throw new Error('no service of the hospital is allowed on any request of the workload: no token requests to make');
  const config = loadConfig({ DATABASE_URL: o.databaseUrl, CUSTOS_ENCRYPTION_KEY: o.key, CUSTOS_LOG_LEVEL: 'silent' });
  const sql = createSql({ url: o.databaseUrl, max: 2 });
  try {
    const wired = wire({ config, sql, log: createLogger({ level: 'silent' }), encryptionKey: config.encryptionKey! });
    const calls: SoakCall[] = [];
    for (const [id, req] of chosen) {
      const sponsor = o.world.principal.get(id)!.sponsor!;
      const cred = await createClientCredential(wired.catalogOps, { principalId: id, actorId: sponsor, meta: { ip: undefined, requestId: undefined } });
      const basic = Buffer.from(`${encodeURIComponent(cred.client_id)}:${encodeURIComponent(cred.client_secret!)}`).toString('base64');
      calls.push({
        kind: 'token',
        path: '/oauth2/token',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          authorization_details: JSON.stringify([{ type: 'dataset_access', dataset: req.dataset, actions: ['read'], columns: req.columns, purpose: req.purpose }]),
          job_id: `soak-${id.slice(0, 8)}`,
        }).toString(),
      });
    }
    return calls;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
