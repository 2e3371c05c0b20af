/**
 * Loads the shipped role table (policies/roles.yaml) into the catalog:
 * creates roles that are missing, leaves existing ones as administrators
 * edited them.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import type { CatalogStore } from '../catalog/store.ts';
import { Slug } from '../catalog/schemas.ts';
import { ConfigError, ConflictError, NotFoundError } from '../errors.ts';

/** Where the shipped policy files live. */
export const POLICIES_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));

const RolesFile = z.strictObject({
  roles: z.array(z.strictObject({ id: Slug, description: z.string().max(2000), inherits: z.array(Slug).optional() })),
});

/** Result of {@link loadDefaultRoles}. */
export interface LoadDefaultRolesResult {
  created: string[];
}

/** Creates the roles of `roles.yaml` that the catalog does not have yet. */
export async function loadDefaultRoles(catalog: CatalogStore, file = `${POLICIES_DIR}roles.yaml`): Promise<LoadDefaultRolesResult> {
  const parsed = RolesFile.safeParse(parse(await readFile(file, 'utf8')));
  if (!parsed.success) throw new ConfigError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const created: string[] = [];
  for (const r of parsed.data.roles) {
    try {
      await catalog.getRole(r.id);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      try {
        await catalog.createRole(r);
        created.push(r.id);
      } catch (e) {
        // Another replica created it first.
        if (!(e instanceof ConflictError)) throw e;
      }
    }
  }
  return { created };
}
