/**
 * Facts for tests of the decision log's stored forms: a person, a service
 * they sponsor (with a vendor id that needs escaping), and a PHI dataset.
 */
import type { DatasetFacts, PrincipalFacts } from '../../src/engine/types.ts';

export const sponsor: PrincipalFacts = {
  id: '0190a0f0-0000-7000-8000-000000000001',
  kind: 'user',
  status: 'active',
  projects: ['onc'],
  vendorId: null,
  baas: [],
  attributes: { team: 'a' },
  roles: [{ role: 'data-scientist', project: 'onc' }],
  grants: [{ id: 'g1', role: 'reviewer', project: null, datasetId: 'onc-notes', notBefore: 0, expiresAt: 10, breakGlass: true }],
};
export const service: PrincipalFacts = { ...sponsor, id: '0190a0f0-0000-7000-8000-000000000002', kind: 'service', vendorId: 'v"1', grants: [], roles: [{ role: 'enforcement-point', project: null }], sponsor };
export const dataset: DatasetFacts = {
  id: 'onc-notes',
  project: 'onc',
  owner: sponsor.id,
  classification: 'phi',
  purposes: ['research'],
  columns: [{ name: 'icd10' }],
  audience: 'urn:custos:dataset:onc-notes',
};
