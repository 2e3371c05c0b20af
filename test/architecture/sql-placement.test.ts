/**
 * Where SQL lives (docs/design-notes.md): the lint rule that keeps SQL in
 * db/ and the modules' postgres/ folders, and refuses the old file names
 * (postgres.ts, *Postgres.ts), is in force. Checked through ESLint itself,
 * so a later block of eslint.config.js that replaced the rule for those
 * files would fail here rather than go unnoticed.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

const QUERY = ["import type { Sql } from '../db/client.ts';", 'export const revoked = (sql: Sql, jti: string) => sql`SELECT 1 FROM revoked_tokens WHERE jti = ${jti}`;', ''].join('\n');

async function restrictedSyntax(file: string, text: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(text, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('where SQL lives', () => {
  it('a module file outside its postgres/ folder may not run SQL', async () => {
    const found = await restrictedSyntax('src/tokens/revocations.ts', QUERY);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/SQL runs only in a module's postgres\/ folder/);
  });

  it("a module's postgres/ folder and db/ may", async () => {
    expect(await restrictedSyntax('src/tokens/postgres/revocations.ts', QUERY.replace('../db/', '../../db/'))).toEqual([]);
    expect(await restrictedSyntax('src/db/revocations.ts', QUERY.replace('../db/', './'))).toEqual([]);
  });

  it('postgres.ts and *Postgres.ts are refused by name, with SQL or without', async () => {
    for (const file of ['src/tokens/postgres.ts', 'src/tokens/revocationsPostgres.ts']) {
      expect((await restrictedSyntax(file, QUERY)).join('\n'), file).toMatch(/No postgres\.ts or \*Postgres\.ts/);
      expect(await restrictedSyntax(file, "export { createTokenStateStore } from './postgres/tokenState.ts';\n"), file).toHaveLength(1);
    }
  });
});
