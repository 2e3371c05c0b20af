/**
 * Vendors and their business associate agreements (45 CFR §164.504(e)) in
 * PostgreSQL. BAAs are appended, never edited.
 */
import { NotFoundError } from '../../errors.ts';
import { decodeCursor } from '../cursor.ts';
import type { Baa, Vendor } from '../schemas.ts';
import type { CatalogStore } from '../store.ts';
import { iso, toPage, translate, type CatalogContext, type Row } from './common.ts';

/** The store's vendor and BAA methods. */
export function vendorStatements(ctx: CatalogContext): Pick<CatalogStore, 'createVendor' | 'getVendor' | 'listVendors' | 'updateVendor' | 'addBaa'> {
  const { sql, deps, today } = ctx;

  const baa = (r: Row): Baa => {
    const t = today();
    return {
      id: r.id,
      vendor_id: r.vendor_id,
      reference: r.reference,
      effective_on: r.effective_on,
      expires_on: r.expires_on,
      purposes: r.purposes,
      classifications: r.classifications,
      active: r.effective_on <= t && t < r.expires_on,
      created_at: iso(r.created_at),
    };
  };

  const BAA_COLS = sql`id, vendor_id, reference, effective_on::text AS effective_on, expires_on::text AS expires_on, purposes, classifications, created_at`;

  async function vendorWithBaas(r: Row): Promise<Vendor> {
    const baas = await sql`SELECT ${BAA_COLS} FROM baas WHERE vendor_id = ${r.id} ORDER BY effective_on, id`;
    return { id: r.id, name: r.name, created_at: iso(r.created_at), updated_at: iso(r.updated_at), baas: baas.map(baa) };
  }

  return {
    async createVendor(input) {
      const rows = await sql`INSERT INTO vendors (id, name) VALUES (${input.id}, ${input.name}) RETURNING *`.catch((e) =>
        translate(e, `Vendor ${input.id}`),
      );
      return vendorWithBaas(rows[0]!);
    },
    async getVendor(id) {
      const [r] = await sql`SELECT * FROM vendors WHERE id = ${id}`;
      if (!r) throw new NotFoundError(`Vendor ${id}`);
      return vendorWithBaas(r);
    },
    async listVendors({ limit, cursor }) {
      const after = decodeCursor(cursor);
      const rows = await sql`SELECT * FROM vendors ${after ? sql`WHERE id > ${after}` : sql``} ORDER BY id LIMIT ${limit + 1}`;
      return toPage(await Promise.all(rows.map(vendorWithBaas)), limit);
    },
    async updateVendor(id, input) {
      const [r] = await sql`UPDATE vendors SET name = ${input.name}, updated_at = now() WHERE id = ${id} RETURNING *`;
      if (!r) throw new NotFoundError(`Vendor ${id}`);
      return vendorWithBaas(r);
    },
    async addBaa(vendorId, input) {
      await this.getVendor(vendorId);
      const rows = await sql`
        INSERT INTO baas (id, vendor_id, reference, effective_on, expires_on, purposes, classifications)
        VALUES (${deps.ids()}, ${vendorId}, ${input.reference}, ${input.effective_on}, ${input.expires_on},
                ${input.purposes}, ${input.classifications})
        RETURNING ${BAA_COLS}`.catch((e) => translate(e, 'BAA'));
      return baa(rows[0]!);
    },
  };
}
