/**
 * Datasets in PostgreSQL. Their classification is derived when read (as of
 * today), never stored.
 */
import { deriveClassification } from '../classification.ts';
import { decodeCursor } from '../cursor.ts';
import type { IdentifierCategory } from '../identifiers.ts';
import type { Dataset } from '../schemas.ts';
import type { CatalogStore } from '../store.ts';
import { iso, one, toPage, translate, type CatalogContext, type Row } from './common.ts';

/** The store's dataset methods. */
export function datasetStatements(ctx: CatalogContext): Pick<CatalogStore, 'createDataset' | 'getDataset' | 'listDatasets' | 'updateDataset'> {
  const { sql, today } = ctx;

  const dataset = (r: Row): Dataset => {
    const ed = r.expert_determination as Dataset['expert_determination'];
    const dua = r.data_use_agreement as Dataset['data_use_agreement'];
    const columns = r.columns as { name: string; type: string; category?: IdentifierCategory }[];
    const derived = deriveClassification(
      {
        columns,
        expertDetermination: ed ? { determinedOn: ed.determined_on, expiresOn: ed.expires_on } : null,
        dataUseAgreement: dua ? { signedOn: dua.signed_on, expiresOn: dua.expires_on } : null,
      },
      today(),
    );
    return {
      id: r.id,
      project_id: r.project_id,
      owner_id: r.owner_id,
      description: r.description,
      purposes: r.purposes,
      columns,
      expert_determination: ed ?? null,
      data_use_agreement: dua ?? null,
      audience: r.audience ?? `urn:custos:dataset:${r.id}`,
      classification: derived.classification,
      classification_basis: derived.basis,
      identifier_categories: derived.identifierCategories,
      created_at: iso(r.created_at),
      updated_at: iso(r.updated_at),
    };
  };

  return {
    async createDataset(input) {
      const rows = await sql`
        INSERT INTO datasets (id, project_id, owner_id, description, purposes, columns, expert_determination, data_use_agreement, audience)
        VALUES (${input.id}, ${input.project_id}, ${input.owner_id}, ${input.description ?? ''}, ${input.purposes},
                ${sql.json(input.columns)}, ${input.expert_determination ? sql.json(input.expert_determination) : null},
                ${input.data_use_agreement ? sql.json(input.data_use_agreement) : null}, ${input.audience ?? null})
        RETURNING *`.catch((e) => translate(e, `Dataset ${input.id}`));
      return dataset(rows[0]!);
    },
    async getDataset(id) {
      return one(await sql`SELECT * FROM datasets WHERE id = ${id}`, `Dataset ${id}`, dataset);
    },
    async listDatasets({ limit, cursor, projectId }) {
      const after = decodeCursor(cursor);
      const rows = await sql`
        SELECT * FROM datasets
        WHERE true ${projectId ? sql`AND project_id = ${projectId}` : sql``} ${after ? sql`AND id > ${after}` : sql``}
        ORDER BY id LIMIT ${limit + 1}`;
      return toPage(rows.map(dataset), limit);
    },
    async updateDataset(id, input) {
      const json = <T>(v: T | null | undefined, col: string) => (v === undefined ? sql(col) : v === null ? null : sql.json(v as never));
      const rows = await sql`
        UPDATE datasets SET
          owner_id = coalesce(${input.owner_id ?? null}::uuid, owner_id),
          description = coalesce(${input.description ?? null}, description),
          purposes = coalesce(${input.purposes ?? null}::text[], purposes),
          columns = ${json(input.columns, 'columns')},
          expert_determination = ${json(input.expert_determination, 'expert_determination')},
          data_use_agreement = ${json(input.data_use_agreement, 'data_use_agreement')},
          audience = coalesce(${input.audience ?? null}, audience),
          updated_at = now()
        WHERE id = ${id} RETURNING *`.catch((e) => translate(e, `Dataset ${id}`));
      return one(rows, `Dataset ${id}`, dataset);
    },
  };
}
