/** One principal's reach now (GET /v1/principals/{id}/access): when it was computed, and the table. */
import { api } from '../../api/client.ts';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { ReachTable } from './ReachTable.tsx';
import type { Reach } from './types.ts';

export function ReachView({ principalId, caption }: { principalId: string; caption: string }) {
  const reach = useLoad<Reach>((signal) => api('GET', `/v1/principals/${encodeURIComponent(principalId)}/access`, { signal }), [principalId]);
  if (reach.error) return <ErrorNote error={reach.error} onRetry={reach.reload} />;
  if (!reach.data) return <Loading />;
  const { items, at, policy_version } = reach.data;
  return (
    <div aria-busy={reach.loading}>
      <p class="muted">
        Computed <Time value={at} /> from the policy in force (version <code>{policy_version}</code>) and the live catalog, grants and roles: each row is what a decision
        for that dataset and purpose would allow now.{' '}
        <button type="button" class="link" onClick={reach.reload}>
          Compute again
        </button>
      </p>
      {items.length === 0 ? <Empty>No dataset can be read now.</Empty> : <ReachTable caption={`${caption}: ${items.length} ${items.length === 1 ? 'row' : 'rows'}`} items={items} by="dataset" />}
    </div>
  );
}
