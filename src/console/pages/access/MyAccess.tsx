/** "Your access": what the signed-in person can read now (GET /v1/principals/{own id}/access, open to everyone for themselves). */
import { useMe } from '../../me.ts';
import { Link } from '../../router.tsx';
import { ReachView } from './ReachView.tsx';

export function MyAccess() {
  const me = useMe();
  return (
    <main id="main">
      <h1>Your access</h1>
      <p>
        What you can read right now: each dataset and purpose, the columns, and the role or grant it comes through. To ask for more, see <Link to="/access/requests">your requests</Link>.
      </p>
      <ReachView principalId={me.principal_id} caption="What you can read now" />
    </main>
  );
}
