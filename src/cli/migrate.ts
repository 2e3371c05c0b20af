/**
 * `custos migrate`: applies pending migrations by hand.
 */
import type { Command } from 'commander';
import { migrate } from '../db/migrate.ts';
import { withContext } from './context.ts';

/** Registers the command. */
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (safe to run while replicas start)')
    .action(async () => {
      await withContext(async ({ db }) => {
        const r = await migrate(db.owner, { onApply: (f) => process.stdout.write(`applied ${String(f.version).padStart(4, '0')}_${f.name}\n`) });
        process.stdout.write(`schema at version ${r.current} (${r.applied.length} applied now)\n`);
      });
    });
}
