/**
 * policies/rules.schema.json is generated from the same zod schema that
 * validates rule documents; this keeps the committed copy current.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ruleDocumentJsonSchema } from '../../src/policy/document.ts';

describe('rules.schema.json', () => {
  it('matches the schema the compiler validates with (regenerate: npm run custos -- policy schema > policies/rules.schema.json)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../policies/rules.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(ruleDocumentJsonSchema());
  });
});
