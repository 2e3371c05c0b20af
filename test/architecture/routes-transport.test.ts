/**
 * Routes know no transport: the lint rule that keeps express and node:http
 * (types included) out of src/http/routes/ is in force. Checked through
 * ESLint itself, so a later block of eslint.config.js that replaced the
 * rule for those files would fail here rather than go unnoticed.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function restrictedImports(file: string, text: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(text, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('route handlers', () => {
  it('may not import express or node:http, not even their types', async () => {
    const text = ["import type { Request, Response } from 'express';", "import type { IncomingMessage } from 'node:http';", 'export type Old = [Request, Response, IncomingMessage];', ''].join('\n');
    const found = await restrictedImports('src/http/routes/example.ts', text);
    expect(found).toHaveLength(2);
    expect(found.join('\n')).toMatch(/'express' import is restricted/);
    expect(found.join('\n')).toMatch(/'node:http' import is restricted/);
  });

  it('still may not reach the database (the rule keeps the rest of http/’s restrictions)', async () => {
    expect(await restrictedImports('src/http/routes/example.ts', "import postgres from 'postgres';\nexport const p = postgres;\n")).toHaveLength(1);
  });

  it('the rest of http/ (the runner, the server) may: they are the transport', async () => {
    expect(await restrictedImports('src/http/example.ts', "import type { Request } from 'express';\nexport type R = Request;\n")).toEqual([]);
  });
});
