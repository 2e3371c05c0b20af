/**
 * `custos keys rotate`: publishes a new token-signing key, which signs once
 * it has been in the JWKS for CUSTOS_KEY_PUBLISH_AHEAD_SECONDS (`--immediate`:
 * at once, for a compromised key); the old one stays in the JWKS until every
 * token it signed has expired.
 */
import type { Command } from 'commander';
import { migrate } from '../db/migrate.ts';
import { withContext } from './context.ts';

/** Registers `custos keys …`. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('token-signing keys');
  keys
    .command('rotate')
    .description('rotate the token-signing key: publish the next key now, sign with it after the publish-ahead period')
    .option('--immediate', 'sign with the new key at once (a compromised key): verifiers with a cached key set refuse its tokens until they re-fetch')
    .action(async (opts: { immediate?: boolean }) => {
      await withContext(async ({ db, wired }) => {
        await migrate(db.owner);
        const r = await wired.keys.rotate({
          immediate: opts.immediate === true,
          trace: (tx, r) =>
            wired.audit.recordIn(tx, {
              type: 'keys.rotated',
              outcome: 'success',
              actorId: null,
              details: { kid: r.kid, retired: r.retired, activates_at: r.activatesAt.toISOString(), immediate: r.immediate, withdrawn: r.withdrawn, via: 'cli' },
            }),
        });
        const when = r.immediate ? 'signing now' : `published now, signing from ${r.activatesAt.toISOString()}`;
        const old = r.retired ? `; ${r.retired} ${r.immediate ? 'retired now' : 'signs until then'} and stays published until its tokens expire` : '';
        const withdrawn = r.withdrawn ? `; scheduled key ${r.withdrawn} withdrawn` : '';
        process.stdout.write(`key ${r.kid} ${when}${old}${withdrawn}\n`);
      });
    });
}
