/**
 * Schemas of catalog documents, shared by request validation, stored types
 * and /openapi.json. Create and update bodies are strict: unknown fields are
 * refused (no mass assignment), and classification cannot be typed in.
 */
import { z } from 'zod';
import { storableText } from '../text.ts';
import { CLASSIFICATIONS, IDENTIFIER_CATEGORIES, PURPOSES } from './identifiers.ts';

/** Lowercase slug ids of projects, vendors and roles. */
export const Slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');
/** Dataset ids may also contain dots and underscores. */
export const DatasetId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'lowercase letters, digits, dot, dash, underscore');
/** Login or service name. */
export const PrincipalName = z.string().regex(/^[a-z0-9][a-z0-9._@-]{0,127}$/, 'lowercase letters, digits and . _ @ -');
/** A calendar date `YYYY-MM-DD`. */
export const IsoDate = z.iso.date();
/** Every stored catalog string follows the storable-text rule: no NUL, no lone surrogate (400 before anything is written). */
const Text = storableText;
const Timestamp = z.string().describe('RFC 3339 timestamp');

/** Free-form principal attributes used by policy conditions. */
export const Attributes = z
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/), z.union([Text(500), z.number(), z.boolean(), z.array(Text(200)).max(100)]))
  .refine((r) => Object.keys(r).length <= 50, 'at most 50 attributes');

/** Query of every list endpoint: keyset pagination. */
export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
});

/** A page of results; pass `next_cursor` back as `cursor` for the next page. */
export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });

export const ProjectCreate = z.strictObject({ id: Slug, name: Text(200).min(1), description: Text(2000).optional() });
export const ProjectUpdate = z.strictObject({ name: Text(200).min(1).optional(), description: Text(2000).optional() });
export const Project = z.object({ id: z.string(), name: z.string(), description: z.string(), created_at: Timestamp, updated_at: Timestamp });

export const VendorCreate = z.strictObject({ id: Slug, name: Text(200).min(1) });
export const VendorUpdate = z.strictObject({ name: Text(200).min(1) });
export const BaaCreate = z
  .strictObject({
    reference: Text(200).min(1),
    effective_on: IsoDate,
    expires_on: IsoDate,
    purposes: z.array(z.enum(PURPOSES)).min(1),
    classifications: z.array(z.enum(CLASSIFICATIONS)).min(1),
  })
  .refine((b) => b.expires_on > b.effective_on, { message: 'expires_on must be after effective_on', path: ['expires_on'] });
export const Baa = z.object({
  id: z.string(),
  vendor_id: z.string(),
  reference: z.string(),
  effective_on: z.string(),
  expires_on: z.string(),
  purposes: z.array(z.string()),
  classifications: z.array(z.string()),
  active: z.boolean().describe('effective_on <= today < expires_on (UTC)'),
  created_at: Timestamp,
});
export const Vendor = z.object({ id: z.string(), name: z.string(), created_at: Timestamp, updated_at: Timestamp, baas: z.array(Baa) });

const principalCommon = {
  name: PrincipalName,
  display_name: Text(200).optional(),
  vendor_id: Slug.optional(),
  attributes: Attributes.optional(),
};
export const PrincipalCreate = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('user'), ...principalCommon, email: z.email().max(320).optional() }),
  z.strictObject({ kind: z.literal('service'), ...principalCommon, sponsor_id: z.uuid(), project_id: Slug }),
]);
export const PrincipalUpdate = z.strictObject({
  display_name: Text(200).optional(),
  email: z.email().max(320).nullable().optional(),
  status: z.enum(['active', 'disabled']).optional(),
  /** A service's new sponsor; its existing client credentials are revoked with the change. */
  sponsor_id: z.uuid().optional(),
  attributes: Attributes.optional(),
});
export const Principal = z.object({
  id: z.string(),
  kind: z.enum(['user', 'service']),
  name: z.string(),
  display_name: z.string(),
  email: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  sponsor_id: z.string().nullable(),
  project_id: z.string().nullable(),
  vendor_id: z.string().nullable(),
  attributes: z.record(z.string(), z.unknown()),
  created_at: Timestamp,
  updated_at: Timestamp,
});
/** Answer to creating a person: the one-time enrollment secret is shown here only. */
export const PrincipalCreated = Principal.extend({
  enrollment: z.object({ secret: z.string(), expires_at: Timestamp }).optional(),
});

export const RoleCreate = z.strictObject({ id: Slug, description: Text(2000).optional(), inherits: z.array(Slug).max(50).optional() });
export const RoleUpdate = z.strictObject({ description: Text(2000).optional(), inherits: z.array(Slug).max(50).optional() });
export const Role = z.object({ id: z.string(), description: z.string(), inherits: z.array(z.string()), created_at: Timestamp, updated_at: Timestamp });

export const RoleAssignmentCreate = z.strictObject({ principal_id: z.uuid(), role_id: Slug, project_id: Slug.nullable().optional() });
export const RoleAssignment = z.object({
  id: z.string(),
  principal_id: z.string(),
  role_id: z.string(),
  project_id: z.string().nullable().describe('null: organisation-wide'),
  created_by: z.string().nullable(),
  created_at: Timestamp,
});
/** The principals list: pagination, and the start of a name (ignoring case). */
export const PrincipalListQuery = PageQuery.extend({
  name: Text(200).min(1).optional().describe('principals whose name starts with this text, ignoring case (e.g. `ali` finds `alice` and `Alistair`)'),
});
export const RoleAssignmentQuery = PageQuery.extend({ principal_id: z.uuid().optional() });

export const DatasetColumn = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a column identifier'),
  type: z.enum(['string', 'integer', 'number', 'boolean', 'date', 'timestamp', 'binary', 'json']).default('string'),
  category: z.enum(IDENTIFIER_CATEGORIES).optional().describe('Safe Harbor identifier category, §164.514(b)(2)'),
});
const Columns = z
  .array(DatasetColumn)
  .min(1)
  .max(2000)
  .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, 'column names must be unique');
export const ExpertDetermination = z
  .strictObject({ expert: Text(200).min(1), method: Text(2000).min(1), determined_on: IsoDate, expires_on: IsoDate })
  .refine((e) => e.expires_on > e.determined_on, { message: 'expires_on must be after determined_on', path: ['expires_on'] });
export const DataUseAgreement = z
  .strictObject({ reference: Text(200).min(1), signed_on: IsoDate, expires_on: IsoDate })
  .refine((d) => d.expires_on > d.signed_on, { message: 'expires_on must be after signed_on', path: ['expires_on'] });
export const DatasetCreate = z.strictObject({
  id: DatasetId,
  project_id: Slug,
  owner_id: z.uuid(),
  description: Text(2000).optional(),
  purposes: z.array(z.enum(PURPOSES)).min(1),
  columns: Columns,
  expert_determination: ExpertDetermination.nullable().optional(),
  data_use_agreement: DataUseAgreement.nullable().optional(),
  audience: Text(300).min(1).optional().describe('Token audience of the dataset server; defaults to urn:custos:dataset:<id>'),
});
export const DatasetUpdate = z.strictObject({
  owner_id: z.uuid().optional(),
  description: Text(2000).optional(),
  purposes: z.array(z.enum(PURPOSES)).min(1).optional(),
  columns: Columns.optional(),
  expert_determination: ExpertDetermination.nullable().optional(),
  data_use_agreement: DataUseAgreement.nullable().optional(),
  audience: Text(300).min(1).optional(),
});
export const Dataset = z.object({
  id: z.string(),
  project_id: z.string(),
  owner_id: z.string(),
  description: z.string(),
  purposes: z.array(z.string()),
  columns: z.array(z.object({ name: z.string(), type: z.string(), category: z.string().optional() })),
  expert_determination: z.object({ expert: z.string(), method: z.string(), determined_on: z.string(), expires_on: z.string() }).nullable(),
  data_use_agreement: z.object({ reference: z.string(), signed_on: z.string(), expires_on: z.string() }).nullable(),
  audience: z.string(),
  classification: z.enum(CLASSIFICATIONS).describe('Derived, never typed in'),
  classification_basis: z.enum(['safe-harbor', 'expert-determination', 'limited-data-set', 'identifiers-present']),
  identifier_categories: z.array(z.string()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export type ProjectCreate = z.infer<typeof ProjectCreate>;
export type ProjectUpdate = z.infer<typeof ProjectUpdate>;
export type Project = z.infer<typeof Project>;
export type VendorCreate = z.infer<typeof VendorCreate>;
export type VendorUpdate = z.infer<typeof VendorUpdate>;
export type Vendor = z.infer<typeof Vendor>;
export type BaaCreate = z.infer<typeof BaaCreate>;
export type Baa = z.infer<typeof Baa>;
export type PrincipalCreate = z.infer<typeof PrincipalCreate>;
export type PrincipalUpdate = z.infer<typeof PrincipalUpdate>;
export type Principal = z.infer<typeof Principal>;
export type RoleCreate = z.infer<typeof RoleCreate>;
export type RoleUpdate = z.infer<typeof RoleUpdate>;
export type Role = z.infer<typeof Role>;
export type RoleAssignmentCreate = z.infer<typeof RoleAssignmentCreate>;
export type RoleAssignment = z.infer<typeof RoleAssignment>;
export type DatasetCreate = z.infer<typeof DatasetCreate>;
export type DatasetUpdate = z.infer<typeof DatasetUpdate>;
export type Dataset = z.infer<typeof Dataset>;
/** A page of items. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
/** Keyset pagination input. */
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}
