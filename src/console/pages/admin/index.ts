/** The administrators' pages: the catalog, pending changes, and policy administration. */
import type { PageDef } from '../types.ts';
import { ChangeDetail, Changes } from './Changes.tsx';
import { DatasetDetail, Datasets } from './Datasets.tsx';
import { DatasetNew } from './DatasetNew.tsx';
import { PolicyPage } from './Policy.tsx';
import { PolicyHistory } from './PolicyHistory.tsx';
import { PrincipalDetail, Principals } from './Principals.tsx';
import { PrincipalNew } from './PrincipalNew.tsx';
import { ProjectDetail, Projects } from './Projects.tsx';
import { RoleDetail, Roles } from './Roles.tsx';
import { VendorDetail, Vendors } from './Vendors.tsx';

const catalog = ['catalog:read'];
const policy = ['policy:read'];
// Who sees pending changes: approvers of each kind, and reviewers (proposers see their own, but the menu is for approvers).
const changes = ['roles:assign', 'policy:write', 'catalog:write', 'audit:read'];

export const adminPages: PageDef[] = [
  { path: '/admin/projects', title: 'Projects', nav: 'Administration', anyOf: catalog, component: Projects },
  { path: '/admin/projects/:id', title: 'Project', anyOf: catalog, component: ProjectDetail },
  { path: '/admin/datasets', title: 'Datasets', nav: 'Administration', anyOf: catalog, component: Datasets },
  { path: '/admin/create/dataset', title: 'Create a dataset', anyOf: ['catalog:write'], component: DatasetNew },
  { path: '/admin/datasets/:id', title: 'Dataset', anyOf: catalog, component: DatasetDetail },
  { path: '/admin/principals', title: 'People and services', nav: 'Administration', anyOf: catalog, component: Principals },
  { path: '/admin/create/principal', title: 'Create a person or service', anyOf: ['catalog:write'], component: PrincipalNew },
  { path: '/admin/principals/:id', title: 'Person or service', anyOf: catalog, component: PrincipalDetail },
  { path: '/admin/roles', title: 'Roles', nav: 'Administration', anyOf: catalog, component: Roles },
  { path: '/admin/roles/:id', title: 'Role', anyOf: catalog, component: RoleDetail },
  { path: '/admin/vendors', title: 'Vendors and BAAs', nav: 'Administration', anyOf: catalog, component: Vendors },
  { path: '/admin/vendors/:id', title: 'Vendor', anyOf: catalog, component: VendorDetail },
  { path: '/admin/changes', title: 'Pending changes', nav: 'Administration', anyOf: changes, component: Changes },
  { path: '/admin/changes/:id', title: 'Change', anyOf: changes, component: ChangeDetail },
  { path: '/admin/policy', title: 'Policy', nav: 'Administration', anyOf: policy, component: PolicyPage },
  { path: '/admin/policy/history', title: 'Policy history', nav: 'Administration', anyOf: policy, component: PolicyHistory },
];
