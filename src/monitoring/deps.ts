/** What the alert lifecycle operations and reads need (built in wire.ts). */
import type { AuditLog } from '../audit/log.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock } from '../clock.ts';
import type { Sql } from '../db/client.ts';
import type { AlertStore } from './alerts.ts';

/** Dependencies of the alert operations. */
export interface AlertDeps {
  sql: Sql;
  audit: AuditLog;
  clock: Clock;
  alerts: AlertStore;
  /** Who a principal is and which roles they hold (assignees, "no one alone"). */
  catalog: Pick<CatalogStore, 'getPrincipal' | 'orgRolesOf'>;
}
