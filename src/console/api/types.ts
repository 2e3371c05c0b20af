/**
 * The API's shapes that more than one area of the console reads, each
 * written once (as src/http/routes answers them). Shapes only one area reads
 * stay with that area (pages/<area>/types.ts).
 */

/** GET /v1/principals/{id} (src/http/routes/catalog.ts). */
export interface Principal {
  id: string;
  kind: 'user' | 'service';
  name: string;
  display_name: string;
  email: string | null;
  status: 'active' | 'disabled';
  sponsor_id: string | null;
  project_id: string | null;
  vendor_id: string | null;
  attributes: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface Column {
  name: string;
  type: string;
  category?: string;
}

/** GET /v1/datasets/{id}. */
export interface Dataset {
  id: string;
  project_id: string;
  owner_id: string;
  description: string;
  purposes: string[];
  columns: Column[];
  expert_determination: { expert: string; method: string; determined_on: string; expires_on: string } | null;
  data_use_agreement: { reference: string; signed_on: string; expires_on: string } | null;
  audience: string;
  classification: 'deidentified' | 'limited' | 'phi';
  classification_basis: 'safe-harbor' | 'expert-determination' | 'limited-data-set' | 'identifiers-present';
  identifier_categories: string[];
  created_at: string;
  updated_at: string;
}

/** A break-glass grant's after-the-fact review. */
export interface GrantReview {
  id: string;
  status: 'open' | 'closed';
  outcome: 'justified' | 'unjustified' | null;
  finding: string | null;
  closed_by: string | null;
  closed_at: string | null;
  created_at: string;
}

/** GET /v1/grants/{id} (src/http/routes/grants.ts). */
export interface Grant {
  id: string;
  principal_id: string;
  role_id: string;
  project_id: string | null;
  dataset_id: string | null;
  not_before: string;
  expires_at: string;
  status: 'active' | 'revoked';
  /** The status as of now. */
  state: 'scheduled' | 'active' | 'expired' | 'revoked';
  break_glass: boolean;
  request_id: string | null;
  justification: string | null;
  created_by: string | null;
  created_at: string;
  revoked_at: string | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  review: GrantReview | null;
}
