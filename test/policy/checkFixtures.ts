/**
 * The rules and the test file the policy-check tests share (the job logic in
 * one thread, PolicyChecker with real workers).
 */
/** Data scientists read every dataset. */
export const ALLOW = `rules:
  - id: sci-read
    effect: allow
    roles: [data-scientist]
    actions: [dataset:read]
`;
/** ALLOW, and dataset d2 denied to data scientists. */
export const DENY_D2 = `${ALLOW}  - id: no-d2
    effect: deny
    roles: [data-scientist]
    actions: [dataset:read]
    resource: { datasets: [d2] }
`;
/** True of ALLOW: sam (a data scientist) reads d, ann (no role) does not. */
export const TEST = `description: scientists read, others do not
policy: default
now: 2026-06-01T12:00:00Z
principals:
  sam: { roles: [{ role: data-scientist }] }
  ann: {}
datasets:
  d: { project: p, classification: deidentified, purposes: [model-training], columns: [a, b] }
cases:
  - name: sam reads
    input: { principal: sam, dataset: d, columns: [a] }
    expect: { effect: allow, rules: [sci-read] }
  - name: ann does not
    input: { principal: ann, dataset: d, columns: [a] }
    expect: { effect: deny, reasons_contain: [no role] }
`;
