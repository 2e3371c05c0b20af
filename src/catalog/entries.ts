/**
 * The catalog entries whose create and update are one store write each
 * (projects, vendors, datasets): their bodies, documents and store calls,
 * so one create and one update operation serve all three.
 */
import type { Dataset, DatasetCreate, DatasetUpdate, Project, ProjectCreate, ProjectUpdate, Vendor, VendorCreate, VendorUpdate } from './schemas.ts';
import type { CatalogStore } from './store.ts';

/** Create body, update body and stored document of each simple entry. */
export interface Entries {
  project: { create: ProjectCreate; update: ProjectUpdate; item: Project };
  vendor: { create: VendorCreate; update: VendorUpdate; item: Vendor };
  dataset: { create: DatasetCreate; update: DatasetUpdate; item: Dataset };
}

/** One of the simple entry kinds. */
export type EntryKind = keyof Entries;

/** How the store creates, reads and updates an entry of kind K. */
export interface EntryStore<K extends EntryKind> {
  create(c: CatalogStore, body: Entries[K]['create']): Promise<Entries[K]['item']>;
  get(c: CatalogStore, id: string): Promise<Entries[K]['item']>;
  update(c: CatalogStore, id: string, body: Entries[K]['update']): Promise<Entries[K]['item']>;
}

/** The store calls of each entry kind. */
export const ENTRY_STORES: { [K in EntryKind]: EntryStore<K> } = {
  project: { create: (c, b) => c.createProject(b), get: (c, id) => c.getProject(id), update: (c, id, b) => c.updateProject(id, b) },
  vendor: { create: (c, b) => c.createVendor(b), get: (c, id) => c.getVendor(id), update: (c, id, b) => c.updateVendor(id, b) },
  dataset: { create: (c, b) => c.createDataset(b), get: (c, id) => c.getDataset(id), update: (c, id, b) => c.updateDataset(id, b) },
};
