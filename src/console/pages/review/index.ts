/**
 * The security reviewers' pages: the decision log and its explanations,
 * audit events, the two reports, chain verification, break-glass reviews,
 * alerts and incidents. Reviewers hold `audit:read` (and `access:review`,
 * `alerts:manage`, `incidents:manage` for the actions).
 */
import type { PageDef } from '../types.ts';
import { AccessReview } from './AccessReview.tsx';
import { AlertDetail } from './AlertDetail.tsx';
import { Alerts } from './Alerts.tsx';
import { AuditEvents } from './AuditEvents.tsx';
import { BreakGlass } from './BreakGlass.tsx';
import { Decision } from './Decision.tsx';
import { Decisions } from './Decisions.tsx';
import { Disclosures } from './Disclosures.tsx';
import { IncidentDetail } from './IncidentDetail.tsx';
import { Incidents } from './Incidents.tsx';
import { Verify } from './Verify.tsx';

const audit = ['audit:read'];

export const reviewPages: PageDef[] = [
  { path: '/decisions', title: 'Decision log', nav: 'Review', anyOf: audit, component: Decisions },
  { path: '/decisions/:id', title: 'Decision', anyOf: audit, component: Decision },
  { path: '/audit-events', title: 'Audit events', nav: 'Review', anyOf: audit, component: AuditEvents },
  { path: '/reports/disclosures', title: 'Disclosures', nav: 'Review', anyOf: audit, component: Disclosures },
  { path: '/reports/access-review', title: 'Access review', nav: 'Review', anyOf: audit, component: AccessReview },
  { path: '/audit/verify', title: 'Chain verification', nav: 'Review', anyOf: ['access:review'], component: Verify },
  { path: '/break-glass', title: 'Break-glass reviews', nav: 'Review', anyOf: ['access:review'], component: BreakGlass },
  { path: '/alerts', title: 'Alerts', nav: 'Review', anyOf: audit, component: Alerts },
  { path: '/alerts/:id', title: 'Alert', anyOf: audit, component: AlertDetail },
  { path: '/incidents', title: 'Incidents', nav: 'Review', anyOf: audit, component: Incidents },
  { path: '/incidents/:id', title: 'Incident', anyOf: audit, component: IncidentDetail },
];
