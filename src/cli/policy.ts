/**
 * `custos policy schema` and `custos policy validate`: work on local policy
 * files without a server.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { compilePolicy, formatIssue, PolicyInvalidError } from '../policy/compile.ts';
import { RolesDocument, ruleDocumentJsonSchema } from '../policy/document.ts';
import { POLICIES_DIR } from '../policy/loadDefaultRoles.ts';
import { readRuleDocuments } from '../policy/loadPolicy.ts';

/** Registers `custos policy …`. */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('policy files: schema, validation');
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
      const roles = RolesDocument.parse(parse(await readFile(path.join(opts.dir, 'roles.yaml'), 'utf8')));
      const documents = await readRuleDocuments(path.join(opts.dir, 'rules'));
      try {
        const s = compilePolicy({ documents, roles: roles.roles.map((r) => ({ id: r.id, inherits: r.inherits ?? [] })) });
        process.stdout.write(`ok: ${s.rules.length} rules in ${documents.length} document(s), version ${s.version}\n`);
      } catch (err) {
        if (!(err instanceof PolicyInvalidError)) throw err;
        for (const i of err.issues) process.stdout.write(`${formatIssue(i)}\n`);
        process.exitCode = 1;
      }
    });
}
