/**
 * The `custos` command line. One file per command; this file only registers
 * them and turns errors into exit codes.
 */
import { Command } from 'commander';
import { CustosError } from '../errors.ts';
import { VERSION } from '../wire.ts';
import { registerAdmin } from './admin.ts';
import { registerAudit } from './audit.ts';
import { registerBootstrap } from './bootstrap.ts';
import { registerDecisions } from './decisions.ts';
import { registerMigrate } from './migrate.ts';
import { registerKeys } from './keys.ts';
import { registerPolicy } from './policy.ts';

const program = new Command();
program.name('custos').description('Custos: policy decision point for HIPAA-regulated AI training data').version(VERSION);
registerMigrate(program);
registerBootstrap(program);
registerPolicy(program);
registerKeys(program);
registerAudit(program);
registerDecisions(program);
registerAdmin(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const code = err instanceof CustosError ? err.code : 'error';
  process.stderr.write(`custos: ${err instanceof Error ? err.message : String(err)} (${code})\n`);
  process.exit(err instanceof CustosError && err.code === 'conflict' ? 3 : 1);
});
