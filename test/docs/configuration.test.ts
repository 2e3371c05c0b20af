/**
 * The configuration reference cannot drift from the code: docs/configuration.md
 * must be exactly what scripts/config-reference.ts renders from the
 * environment schema now, and every variable the schema reads must carry a
 * meaning and an example. After changing the schema: `npm run docs:config`.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONFIGURATION_PAGE, renderConfigurationReference } from '../../scripts/config-reference.ts';
import { envSchema, loadConfig } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('docs/configuration.md', () => {
  it('is what `npm run docs:config` generates from the environment schema now', async () => {
    const committed = await readFile(ROOT + CONFIGURATION_PAGE, 'utf8');
    expect(committed, 'docs/configuration.md is stale: run `npm run docs:config` and commit the result').toBe(renderConfigurationReference());
  });

  it('lists every variable of the schema, with its meaning, and the defaults the code applies', () => {
    const page = renderConfigurationReference();
    const defaults = loadConfig({});
    for (const [name, schema] of Object.entries(envSchema.shape)) {
      expect(page, name).toContain(`| \`${name}\` |`);
      expect(z.globalRegistry.get(schema as z.ZodType)?.description, `${name} has a .describe() text`).toMatch(/\S{3}/);
    }
    // Spot checks that the default column is read from the schema the code parses with.
    expect(page).toContain(`| \`PORT\` | \`${defaults.port}\` |`);
    expect(page).toContain(`| \`CUSTOS_STEP_UP_SECONDS\` | \`${defaults.stepUpSeconds}\` |`);
    expect(page).toContain(`| \`CUSTOS_TOKEN_MAX_SECONDS\` | \`${defaults.tokenMaxSeconds}\` |`);
  });

  it('renders a changed default (the comparison above would then fail)', () => {
    const changed = envSchema.extend({ PORT: z.coerce.number().int().min(0).max(65535).default(9090).describe('HTTP(S) port').meta({ example: '443' }) });
    expect(renderConfigurationReference(changed)).toContain('| `PORT` | `9090` |');
    expect(renderConfigurationReference(changed)).not.toBe(renderConfigurationReference());
  });
});
