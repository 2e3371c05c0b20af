/**
 * The referee: the hospital's access policy (world.ts, in words) written as
 * plain code over the world's model, with no rule engine, no CEL and nothing
 * of src/engine. Custos and Cerbos each get the same policy in their own
 * format (policy.ts, cerbos.ts); both must answer every request as this does.
 */
import { DIRECT_IDENTIFIERS, projectsOf, type Classification, type Dataset, type HospitalRequest, type Principal, type Purpose, type World } from './world.ts';

/** What the hospital decides for one request. */
export interface Verdict {
  effect: 'allow' | 'deny';
  /**
   * The columns Custos reports as granted: on an allow, the requested ones;
   * on a deny by columns alone, every column of the dataset the applicable
   * allows grant (in dataset order); otherwise none.
   */
  granted: string[];
  /** On a deny by columns alone (Custos's `denied_columns`): the requested columns not granted. */
  columnDeny: string[] | null;
  /**
   * Requested columns an enforcement point must withhold, asking column by
   * column (Cerbos): all of them on a deny for any reason but columns, the
   * ungranted ones on a deny by columns, the sponsor's on a service whose own
   * answer was an allow.
   */
  withheld: string[];
}

/** A column grant of one allow: every column, those without a category, all but some categories, or named columns. */
type Grant = { all: true } | { plain: true } | { except: readonly string[] } | { only: readonly string[] };

/** Today's UTC date as `YYYY-MM-DD`. */
export function utcToday(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/** Decides one request at `today`. */
export function oracle(w: World, req: HospitalRequest, today: string): Verdict {
  const p = w.principal.get(req.principal)!;
  const d = w.dataset.get(req.dataset)!;
  const own = decideAs(w, p, d, req, today);
  if (p.kind !== 'service' || own.effect === 'deny') return own;
  // A service is decided as its sponsor too: its allow stands only if the sponsor's would.
  const sponsor = decideAs(w, w.principal.get(p.sponsor!)!, d, req, today);
  if (sponsor.effect === 'allow') return own;
  return { effect: 'deny', granted: [], columnDeny: null, withheld: sponsor.withheld };
}

function fullDeny(req: HospitalRequest): Verdict {
  return { effect: 'deny', granted: [], columnDeny: null, withheld: [...new Set(req.columns)] };
}

function decideAs(w: World, p: Principal, d: Dataset, req: HospitalRequest, today: string): Verdict {
  const purpose = req.purpose;
  const cls = d.classification;
  // Prerequisites.
  if (p.status !== 'active') return fullDeny(req);
  if (!d.purposes.includes(purpose)) return fullDeny(req);
  if (p.vendor) {
    const covered = w.vendor.get(p.vendor)!.baas.some(
      (b) => b.effectiveOn <= today && today < b.expiresOn && b.purposes.includes(purpose) && b.classifications.includes(cls),
    );
    if (!covered) return fullDeny(req);
  }

  // Roles held here: in the dataset's project or organisation-wide; an attending physician is a clinician too.
  const held = new Set<string>();
  for (const b of p.roles) {
    if (b.project !== null && b.project !== d.project) continue;
    held.add(b.role);
    if (b.role === 'attending-physician') held.add('clinician');
  }
  const has = (...roles: string[]) => roles.some((r) => held.has(r));
  const member = projectsOf(p).includes(d.project);
  const identified = cls === 'phi' || cls === 'limited';
  const is = (...c: Classification[]) => c.includes(cls);
  const for_ = (...ps: Purpose[]) => ps.includes(purpose);

  // Denies override every allow.
  if (has('system-administrator') && identified) return fullDeny(req);
  if (has('security-reviewer')) return fullDeny(req);
  if (has('phi-restricted') && identified) return fullDeny(req);
  if (has('clinician', 'data-scientist', 'ai-researcher') && identified && !p.hipaaTraining) return fullDeny(req);
  if (d.embargoed && has('data-scientist', 'ai-researcher', 'vendor-analyst', 'ml-pipeline')) return fullDeny(req);
  if (d.noVendors && has('vendor-analyst')) return fullDeny(req);
  if (w.sanctioned.includes(p.id) && has('clinician', 'data-scientist', 'ai-researcher')) return fullDeny(req);

  // Allows, each with the columns it grants.
  const grants: Grant[] = [];
  const project = w.projects.find((x) => x.id === d.project)!;
  if (has('ai-researcher') && is('deidentified') && for_('research', 'model-training', 'model-evaluation')) grants.push({ all: true });
  if (has('data-scientist') && is('deidentified') && for_('model-training', 'model-evaluation', 'research')) grants.push({ all: true });
  if (has('data-scientist') && identified && for_('model-training') && member) grants.push({ except: DIRECT_IDENTIFIERS });
  if (has('clinician') && for_('operations', 'research') && member && p.clearance >= 2) grants.push({ plain: true });
  if (has('attending-physician') && is('phi') && for_('operations') && member) grants.push({ except: ['ssn', 'biometric', 'full-face-photo'] });
  if (has('ml-pipeline') && for_('model-training') && member) grants.push({ plain: true });
  if (has('vendor-analyst') && is('deidentified', 'limited') && for_('model-evaluation') && member) grants.push({ plain: true });
  if (has('data-scientist', 'clinician', 'data-steward') && d.owner === p.id) grants.push({ all: true });
  if (has('ai-researcher') && is('limited') && for_('research') && p.clearance >= project.researcherMinClearance) grants.push({ plain: true });
  if (has('data-steward') && for_('operations')) grants.push({ plain: true });
  if (project.vendorDates && has('vendor-analyst') && is('limited') && for_('model-evaluation')) grants.push({ except: DIRECT_IDENTIFIERS });
  if (d.clinicalColumns.length && has('clinician') && for_('operations') && member) grants.push({ only: d.clinicalColumns });
  if (d.evalColumns.length && has('ai-researcher') && for_('model-evaluation')) grants.push({ only: d.evalColumns });
  if (has('data-steward') && w.stewardships.get(p.id)?.includes(d.id) && for_('operations', 'research')) grants.push({ all: true });
  if (!grants.length) return fullDeny(req);

  // Minimum necessary: the union of what the allows grant must cover every requested column.
  const granted = d.columns.filter((c) => grants.some((g) => grants_(g, c.name, c.category))).map((c) => c.name);
  const requested = [...new Set(req.columns)];
  const missing = requested.filter((c) => !granted.includes(c));
  if (missing.length) return { effect: 'deny', granted, columnDeny: missing, withheld: missing };
  return { effect: 'allow', granted: requested, columnDeny: null, withheld: [] };
}

function grants_(g: Grant, name: string, category: string | undefined): boolean {
  if ('all' in g) return true;
  if ('plain' in g) return !category;
  if ('except' in g) return !category || !g.except.includes(category);
  return g.only.includes(name);
}
