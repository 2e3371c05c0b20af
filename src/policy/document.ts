/**
 * The policy document format: readable, diffable YAML under policies/rules/.
 * The same zod schema validates documents (with errors that point at the
 * document, rule and field) and generates policies/rules.schema.json.
 */
import { z } from 'zod';
import { CLASSIFICATIONS, IDENTIFIER_CATEGORIES, PURPOSES } from '../catalog/identifiers.ts';

const Id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'lowercase letters, digits, dot, dash, underscore');
const RoleId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a role id');

/** Actions a rule may name. */
export const ACTIONS = ['dataset:read'] as const;

/** Which columns an allow grants. Omitted: every column without an identifier category. */
export const ColumnsSpec = z.union([
  z.literal('all').describe('every column, identifiers included'),
  z.literal('non-identifiers').describe('every column without a Safe Harbor identifier category (the default)'),
  z.strictObject({ include: z.array(z.string().min(1).max(63)).min(1).max(2000) }).describe('exactly these columns'),
  z.strictObject({ except_categories: z.array(z.enum(IDENTIFIER_CATEGORIES)).min(1) }).describe('every column except those of these identifier categories'),
]);

/** A duty carried by an allow into the token and the decision log. */
export const ObligationSpec = z
  .object({ type: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/) })
  .catchall(z.union([z.string().max(200), z.number(), z.boolean()]))
  .refine((o) => Object.keys(o).length <= 10, 'at most 10 fields');

/** One rule. */
export const RuleSpec = z
  .strictObject({
    id: Id.describe('unique across the policy; shown in decisions and logs'),
    description: z.string().max(2000).optional(),
    effect: z.enum(['allow', 'deny']),
    roles: z.array(RoleId).min(1).max(100).describe('the rule applies to holders of any of these roles (directly, by inheritance, or through an active grant)'),
    actions: z.array(z.enum(ACTIONS)).min(1),
    resource: z
      .strictObject({
        datasets: z.array(Id).min(1).max(10_000).optional(),
        projects: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/)).min(1).max(10_000).optional(),
        classification: z.array(z.enum(CLASSIFICATIONS)).min(1).optional(),
      })
      .optional()
      .describe('which datasets; every given field must match; omitted = any dataset'),
    purposes: z.array(z.enum(PURPOSES)).min(1).optional().describe('omitted = any purpose the dataset permits'),
    when: z.string().min(1).max(2000).optional().describe('a CEL condition over principal, resource and request'),
    columns: ColumnsSpec.optional().describe('allow only: the columns granted'),
    obligations: z.array(ObligationSpec).max(20).optional().describe('allow only'),
  })
  .superRefine((r, ctx) => {
    if (r.effect === 'deny' && r.columns) ctx.addIssue({ code: 'custom', path: ['columns'], message: 'a deny rule grants no columns' });
    if (r.effect === 'deny' && r.obligations) ctx.addIssue({ code: 'custom', path: ['obligations'], message: 'a deny rule carries no obligations' });
  });

/** A duration such as `30m`, `8h` or `2d`. */
export const Duration = z.string().regex(/^[1-9]\d{0,5}[smhd]$/, 'a duration like 30m, 8h or 2d');

/** Seconds in a {@link Duration}. */
export function durationSeconds(d: string): number {
  return Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86_400 }[d.slice(-1) as 's' | 'm' | 'h' | 'd'];
}

/** Which roles may be requested just in time, for how long, and who approves. */
export const AccessRequestLimit = z.strictObject({
  role: RoleId.describe('the role that may be requested'),
  max_duration: Duration.describe('longest grant a request may ask for'),
  approvals: z.number().int().min(1).max(10).describe('distinct approvers needed'),
  approvers: z.array(RoleId).min(1).max(20).describe('roles whose holders (in the scope, or organisation-wide) may approve'),
});

/** Emergency access: who may activate it, which role it gives, for how long. */
export const BreakGlassSpec = z.strictObject({
  role: RoleId.describe('the role a break-glass activation grants (its rules should allow purpose `emergency` only)'),
  eligible: z.array(RoleId).min(1).max(20).describe('standing roles (in the scope, or organisation-wide) whose holders may activate it'),
  max_duration: Duration.describe('longest activation (also capped by CUSTOS_BREAK_GLASS_MAX_SECONDS)'),
});

/** A rule document (one YAML file). */
export const RuleDocument = z.strictObject({
  rules: z.array(RuleSpec).max(100_000),
  access: z
    .strictObject({
      requests: z.array(AccessRequestLimit).max(1000).optional(),
      break_glass: BreakGlassSpec.optional(),
    })
    .optional()
    .describe('just-in-time access: requestable roles and break-glass'),
});

/** The role table document (policies/roles.yaml). */
export const RolesDocument = z.strictObject({
  roles: z.array(z.strictObject({ id: RoleId, description: z.string().max(2000), inherits: z.array(RoleId).optional() })),
});

export type RuleSpec = z.infer<typeof RuleSpec>;
export type RuleDocument = z.infer<typeof RuleDocument>;
export type AccessSpec = NonNullable<RuleDocument['access']>;
export type RolesDocument = z.infer<typeof RolesDocument>;

/** JSON Schema (2020-12) of rule documents, for editors and reviewers. */
export function ruleDocumentJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://custos.invalid/schemas/rules.schema.json',
    title: 'Custos rule document',
    ...(z.toJSONSchema(RuleDocument, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>),
  };
}
