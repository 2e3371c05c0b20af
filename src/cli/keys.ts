/**
 * `custos keys rotate`: makes a new token-signing key active; the old one
 * stays in the JWKS until every token it signed has expired.
 */
import type { Command } from 'commander';
import { migrate } from '../db/migrate.ts';
import { withContext } from './context.ts';

/** Registers `custos keys …`. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('token-signing keys');
  keys
    .command('rotate')
    .description('rotate the token-signing key now')
    .action(async () => {
      await withContext(async ({ db, wired }) => {
        await migrate(db.owner);
        const r = await wired.keys.rotate((tx, r) => wired.audit.recordIn(tx, { type: 'keys.rotated', outcome: 'success', actorId: null, details: { kid: r.kid, retired: r.retired, via: 'cli' } }));
        process.stdout.write(`active key ${r.kid}${r.retired ? ` (retired ${r.retired}; still published until its tokens expire)` : ''}\n`);
      });
    });
}
