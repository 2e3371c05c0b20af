/**
 * The hospital's policy (world.ts, in words) as one Custos rule document
 * (policies/rules.schema.json): role-wide rules with conditions, rules per
 * project and per dataset, one rule per data steward
 * (`when: principal.id == "<uuid>"`) and one deny per sanctioned person.
 * Deny overrides allow across roles in Custos, so the denies are plain rules
 * of the roles they bind.
 */
import { stringify } from 'yaml';
import { DIRECT_IDENTIFIERS, type World } from './world.ts';

type Rule = Record<string, unknown>;

const OWN_PROJECT = 'resource.project in principal.projects';
const ANY_DATA = ['deidentified', 'limited', 'phi'];

/** The hospital's rules, in the order a reviewer would read them. */
export function hospitalRules(w: World): Rule[] {
  const rules: Rule[] = [
    allow('researcher-deidentified', ['ai-researcher'], { resource: { classification: ['deidentified'] }, purposes: ['research', 'model-training', 'model-evaluation'], columns: 'all' }),
    allow('scientist-deidentified', ['data-scientist'], { resource: { classification: ['deidentified'] }, purposes: ['model-training', 'model-evaluation', 'research'], columns: 'all' }),
    allow('scientist-own-project-phi', ['data-scientist'], {
      resource: { classification: ['phi', 'limited'] },
      purposes: ['model-training'],
      when: OWN_PROJECT,
      columns: { except_categories: DIRECT_IDENTIFIERS },
      obligations: [{ type: 'no-export' }, { type: 'review-within-24h' }],
    }),
    allow('clinician-own-project', ['clinician'], { resource: { classification: ANY_DATA }, purposes: ['operations', 'research'], when: `${OWN_PROJECT} && principal.attributes.clearance >= 2`, columns: 'non-identifiers' }),
    allow('attending-identifiers', ['attending-physician'], { resource: { classification: ['phi'] }, purposes: ['operations'], when: OWN_PROJECT, columns: { except_categories: ['ssn', 'biometric', 'full-face-photo'] } }),
    allow('pipeline-training', ['ml-pipeline'], { purposes: ['model-training'], when: OWN_PROJECT, columns: 'non-identifiers' }),
    allow('vendor-evaluation', ['vendor-analyst'], { resource: { classification: ['deidentified', 'limited'] }, purposes: ['model-evaluation'], when: OWN_PROJECT, columns: 'non-identifiers' }),
    allow('owner-reads-own', ['data-scientist', 'clinician', 'data-steward'], { when: 'resource.owner == principal.id', columns: 'all' }),
    deny('sysadmin-never-reads-phi', ['system-administrator'], { resource: { classification: ['phi', 'limited'] } }),
    deny('reviewer-reads-no-data', ['security-reviewer'], {}),
    deny('restricted-no-phi', ['phi-restricted'], { resource: { classification: ['phi', 'limited'] } }),
    deny('untrained-no-identified-data', ['clinician', 'data-scientist', 'ai-researcher'], { resource: { classification: ['phi', 'limited'] }, when: 'principal.attributes.hipaa_training == false' }),
  ];
  for (const p of w.projects) {
    rules.push(
      allow(`${p.id}-researcher-limited`, ['ai-researcher'], { resource: { projects: [p.id], classification: ['limited'] }, purposes: ['research'], when: `principal.attributes.clearance >= ${p.researcherMinClearance}`, columns: 'non-identifiers' }),
      allow(`${p.id}-steward-operations`, ['data-steward'], { resource: { projects: [p.id] }, purposes: ['operations'], columns: 'non-identifiers' }),
    );
    if (p.vendorDates) rules.push(allow(`${p.id}-vendor-dates`, ['vendor-analyst'], { resource: { projects: [p.id], classification: ['limited'] }, purposes: ['model-evaluation'], columns: { except_categories: DIRECT_IDENTIFIERS } }));
  }
  for (const d of w.datasets) {
    if (d.clinicalColumns.length) rules.push(allow(`${d.id}-clinical`, ['clinician'], { resource: { datasets: [d.id] }, purposes: ['operations'], when: OWN_PROJECT, columns: { include: d.clinicalColumns } }));
    if (d.evalColumns.length) rules.push(allow(`${d.id}-evaluation`, ['ai-researcher'], { resource: { datasets: [d.id] }, purposes: ['model-evaluation'], columns: { include: d.evalColumns } }));
    if (d.embargoed) rules.push(deny(`${d.id}-embargo`, ['data-scientist', 'ai-researcher', 'vendor-analyst', 'ml-pipeline'], { resource: { datasets: [d.id] } }));
    if (d.noVendors) rules.push(deny(`${d.id}-no-vendors`, ['vendor-analyst'], { resource: { datasets: [d.id] } }));
  }
  let n = 0;
  for (const [id, datasets] of w.stewardships) {
    rules.push(allow(`steward-${++n}`, ['data-steward'], { resource: { datasets }, purposes: ['operations', 'research'], when: `principal.id == "${id}"`, columns: 'all' }));
  }
  w.sanctioned.forEach((id, i) => rules.push(deny(`sanction-${i + 1}`, ['clinician', 'data-scientist', 'ai-researcher'], { when: `principal.id == "${id}"` })));
  return rules;
}

/** The rule document as stored in a policy version. */
export function hospitalPolicyYaml(w: World): string {
  return `# The synthetic hospital of bench/hospital/world.ts (seed ${w.seed}), generated.\n` + stringify({ rules: hospitalRules(w) }, { lineWidth: 0 });
}

function allow(id: string, roles: string[], rest: Rule): Rule {
  return { id, effect: 'allow', roles, actions: ['dataset:read'], ...rest };
}

function deny(id: string, roles: string[], rest: Rule): Rule {
  return { id, effect: 'deny', roles, actions: ['dataset:read'], ...rest };
}
