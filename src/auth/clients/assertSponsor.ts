/**
 * The rule behind every sponsor-only credential operation ("no one alone",
 * docs/security-model.md): a service's credentials are its sponsor's
 * business alone — creating them, and, on the sponsor's own routes, listing
 * and revoking them. Pure: the operations read (or lock) the service first.
 */
import { NotSponsorError, ValidationError } from '../../errors.ts';

/** Refuses anyone but the sponsor of `service` (NotSponsorError), and any principal that is not a service (ValidationError). */
export function assertSponsor(service: { id: string; kind: string; sponsor_id: string | null }, actorId: string): void {
  if (service.kind !== 'service') throw new ValidationError('Client credentials are for service principals.', [{ path: 'params.id', message: 'not a service' }]);
  if (service.sponsor_id !== actorId) throw new NotSponsorError({ principalId: service.id, actorId });
}
