/**
 * What the catalog is: the operations on projects, vendors, principals,
 * roles, assignments and datasets. `postgres/` implements it.
 */
import type { Tx } from '../db/client.ts';
import type {
  Baa,
  BaaCreate,
  Dataset,
  DatasetCreate,
  DatasetUpdate,
  Page,
  PageRequest,
  Principal,
  PrincipalCreate,
  PrincipalUpdate,
  Project,
  ProjectCreate,
  ProjectUpdate,
  Role,
  RoleAssignment,
  RoleAssignmentCreate,
  RoleCreate,
  RoleUpdate,
  Vendor,
  VendorCreate,
  VendorUpdate,
} from './schemas.ts';

/** Catalog reads and writes. Methods throw NotFoundError / ConflictError / ValidationError. */
export interface CatalogStore {
  /**
   * The same store, reading and writing through the caller's transaction, so
   * a change commits together with its audit event (or neither does).
   */
  withTx(tx: Tx): CatalogStore;

  createProject(input: ProjectCreate): Promise<Project>;
  getProject(id: string): Promise<Project>;
  listProjects(page: PageRequest): Promise<Page<Project>>;
  updateProject(id: string, input: ProjectUpdate): Promise<Project>;

  createVendor(input: VendorCreate): Promise<Vendor>;
  getVendor(id: string): Promise<Vendor>;
  listVendors(page: PageRequest): Promise<Page<Vendor>>;
  /** BAAs are appended, never edited: a changed agreement is a new record. */
  updateVendor(id: string, input: VendorUpdate): Promise<Vendor>;
  addBaa(vendorId: string, input: BaaCreate): Promise<Baa>;

  createPrincipal(input: PrincipalCreate): Promise<Principal>;
  getPrincipal(id: string): Promise<Principal>;
  /** Reads a principal and locks its row until the transaction ends (use through `withTx`). */
  lockPrincipal(id: string): Promise<Principal>;
  findPrincipalByName(name: string): Promise<Principal | undefined>;
  /** By id; `name`: only those whose name starts with it, ignoring case. */
  listPrincipals(page: PageRequest & { name?: string | undefined }): Promise<Page<Principal>>;
  /** The services a person sponsors, by id. */
  listSponsoredBy(sponsorId: string, page: PageRequest): Promise<Page<Principal>>;
  /** Changes a principal; a new sponsor (services only) must be an active person. */
  updatePrincipal(id: string, input: PrincipalUpdate): Promise<Principal>;

  createRole(input: RoleCreate): Promise<Role>;
  getRole(id: string): Promise<Role>;
  listRoles(page: PageRequest): Promise<Page<Role>>;
  updateRole(id: string, input: RoleUpdate): Promise<Role>;

  assignRole(input: RoleAssignmentCreate, createdBy: string | null): Promise<RoleAssignment>;
  listRoleAssignments(page: PageRequest & { principalId?: string | undefined }): Promise<Page<RoleAssignment>>;
  /** Removes an assignment and returns what it was. */
  removeRoleAssignment(id: string): Promise<RoleAssignment>;
  /** Organisation-wide roles of a principal, with inherited roles expanded. */
  orgRolesOf(principalId: string): Promise<string[]>;
  /** True when an active principal holds this role (or one inheriting it) organisation-wide. */
  anyActiveHolderOf(roleId: string): Promise<boolean>;

  createDataset(input: DatasetCreate): Promise<Dataset>;
  getDataset(id: string): Promise<Dataset>;
  listDatasets(page: PageRequest & { projectId?: string | undefined }): Promise<Page<Dataset>>;
  updateDataset(id: string, input: DatasetUpdate): Promise<Dataset>;
}
