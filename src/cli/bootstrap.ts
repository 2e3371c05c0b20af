/**
 * `custos bootstrap`: creates the first administrator on an empty database
 * and prints its one-time enrollment secret. Refuses once one exists.
 */
import type { Command } from 'commander';
import { bootstrapAdmin } from '../auth/bootstrap.ts';
import { migrate } from '../db/migrate.ts';
import { loadDefaultRoles } from '../policy/loadDefaultRoles.ts';
import { withContext } from './context.ts';

/** Registers the command. */
export function registerBootstrap(program: Command): void {
  program
    .command('bootstrap')
    .description('create the first administrator (only on a database without one)')
    .option('--username <name>', 'login name of the administrator', 'admin')
    .option('--json', 'print the result as JSON (for automation)')
    .action(async (opts: { username: string; json?: boolean }) => {
      await withContext(async ({ db, wired }) => {
        await migrate(db.owner);
        await loadDefaultRoles(wired.catalog);
        const r = await bootstrapAdmin(wired.auth, { username: opts.username });
        if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
        else
          process.stdout.write(
            `First administrator: ${r.username}\nOne-time enrollment secret (shown only now, expires ${r.expires_at}):\n  ${r.enrollment_secret}\n`,
          );
      });
    });
}
