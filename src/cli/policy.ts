/**
 * `custos policy schema | validate | test | diff`: work on local policy files
 * without a server (`diff --server` compares stored versions). The commands
 * that talk to a server are in policyRemote.ts.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { checkPolicy } from '../policy/checkPolicy.ts';
import { formatIssue } from '../policy/compile.ts';
import { diffPolicies } from '../policy/diff.ts';
import { RolesDocument, ruleDocumentJsonSchema } from '../policy/document.ts';
import { POLICIES_DIR } from '../policy/loadDefaultRoles.ts';
import { readPolicyFolder } from '../policy/loadLivePolicy.ts';
import { formatDiff, formatTestReport } from './policyFormat.ts';
import { registerPolicyRemote, remoteDiff } from './policyRemote.ts';

async function rolesOf(dir: string) {
  const roles = RolesDocument.parse(parse(await readFile(path.join(dir, 'roles.yaml'), 'utf8')));
  return roles.roles.map((r) => ({ id: r.id, inherits: r.inherits ?? [] }));
}

/** Registers `custos policy …`. */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('policy files and versions: schema, validate, test, diff, simulate, push, rollback, history');
  policy
    .command('schema')
    .description('print the JSON Schema of rule documents')
    .action(() => {
      process.stdout.write(JSON.stringify(ruleDocumentJsonSchema(), null, 2) + '\n');
    });
  policy
    .command('validate')
    .description('compile the rule documents of a folder against the role table (default: the shipped policies)')
    .option('--dir <folder>', 'folder with rules/*.yaml and roles.yaml', POLICIES_DIR)
    .action(async (opts: { dir: string }) => {
      const files = await readPolicyFolder(opts.dir);
      const r = checkPolicy({ documents: files.documents, tests: {}, roles: await rolesOf(opts.dir) });
      if (r.snapshot) process.stdout.write(`ok: ${r.snapshot.rules.length} rules in ${Object.keys(files.documents).length} document(s), version ${r.snapshot.version}\n`);
      else {
        for (const i of r.issues) process.stdout.write(`${formatIssue(i)}\n`);
        process.exitCode = 1;
      }
    });
  policy
    .command('test')
    .description('run the test files of a folder (tests/*.yaml) against its rule documents and role table')
    .option('--dir <folder>', 'folder with rules/, tests/ and roles.yaml', POLICIES_DIR)
    .option('--json', 'print the report as JSON')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const files = await readPolicyFolder(opts.dir);
      const r = checkPolicy({ ...files, roles: await rolesOf(opts.dir) });
      if (!r.snapshot) {
        for (const i of r.issues) process.stdout.write(`${formatIssue(i)}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(opts.json ? JSON.stringify(r.tests, null, 2) + '\n' : formatTestReport(r.tests!));
      if (!r.tests!.ok) process.exitCode = 1;
    });
  policy
    .command('diff [before] [after]')
    .description('compare two policy folders (rules and tests), or with --server two stored versions (--from, --to)')
    .option('--server <url>', 'Custos base URL (or CUSTOS_SERVER): compare stored versions')
    .option('--token <token>', 'session token (or CUSTOS_TOKEN)')
    .option('--from <version>', 'stored version to compare from')
    .option('--to <version>', 'stored version to compare to (default: the live one)')
    .option('--json', 'print JSON')
    .action(async (before: string | undefined, after: string | undefined, opts: { server?: string; token?: string; from?: string; to?: string; json?: boolean }) => {
      if (opts.from) return remoteDiff({ ...opts, from: opts.from });
      if (!before || !after) throw new Error('name two folders, or a stored version with --from (and --server)');
      const d = diffPolicies(await readPolicyFolder(before), await readPolicyFolder(after));
      process.stdout.write(opts.json ? JSON.stringify(d, null, 2) + '\n' : formatDiff(d, { from: before, to: after }));
    });
  registerPolicyRemote(policy);
}
