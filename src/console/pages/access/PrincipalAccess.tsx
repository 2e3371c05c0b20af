/**
 * "What can this person or job reach right now": find a principal by name,
 * then their reach (GET /v1/principals/{id}/access). For holders of
 * `catalog:read` or `audit:read`; the name search reads the catalog's
 * principals (GET /v1/principals, which needs `catalog:read`) and matches
 * names in the browser, since that list has no name filter. Without
 * `catalog:read` a principal is given by id. The search and the choice are
 * in the URL (`?q=…&principal=…`), so the view is a link.
 */
import { useState } from 'preact/hooks';
import { can, useMe } from '../../me.ts';
import { Link, navigate } from '../../router.tsx';
import { Field } from '../../ui/Field.tsx';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { rememberPrincipals } from '../../ui/principals.tsx';
import { loadAll, nameOf, usePrincipals } from './lookups.ts';
import { ReachView } from './ReachView.tsx';
import type { Principal } from '../../api/types.ts';

const SHOWN = 25;

function matches(p: Principal, q: string): boolean {
  const s = q.trim().toLowerCase();
  return p.name.toLowerCase().includes(s) || p.display_name.toLowerCase().includes(s) || p.id === s;
}

export function PrincipalAccess({ query }: PageProps) {
  const me = useMe();
  const q = query.get('q') ?? '';
  const chosen = query.get('principal') ?? '';
  const byName = can(me, 'catalog:read');
  const [text, setText] = useState(q);
  const known = usePrincipals(chosen ? [chosen] : [], byName);
  const who = chosen ? nameOf(chosen, known, me.principal_id) : '';

  return (
    <main id="main">
      <h1>What a principal can reach</h1>
      <p>
        Every dataset, column and purpose a person or job can read right now, and through which role or grant, until when. Computed from the policy in force and the live catalog,
        not from the log: someone who never asked still shows up.
      </p>
      <form
        role="search"
        aria-label="Find a principal"
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const t = text.trim();
          if (byName) navigate('/access/principals', { q: t, principal: chosen || undefined }, true);
          else navigate('/access/principals', { principal: t }, true);
        }}
      >
        {byName ? (
          <Field label="Name" hint="Part of a person's or job's name" value={text} onValue={setText} />
        ) : (
          <Field label="Principal id" hint="Finding by name needs catalog:read" value={text} onValue={setText} />
        )}
        <button type="submit">Find</button>
      </form>
      {byName && q.trim() && <Matches q={q} />}
      {chosen && (
        <section aria-labelledby="reach-of">
          <h2 id="reach-of">Access of {who}</h2>
          <ReachView key={chosen} principalId={chosen} caption={`What ${who} can read now`} />
        </section>
      )}
    </main>
  );
}

/** The principals whose name contains the search text. */
function Matches({ q }: { q: string }) {
  const all = useLoad(async (signal) => {
    const r = await loadAll<Principal>('/v1/principals', signal);
    rememberPrincipals(r.items);
    return r;
  }, []);
  if (all.error) return <ErrorNote error={all.error} onRetry={all.reload} />;
  if (!all.data) return <Loading label="Loading principals…" />;
  const found = all.data.items.filter((p) => matches(p, q));
  return (
    <section aria-labelledby="matches">
      <h2 id="matches">Principals matching “{q.trim()}”</h2>
      {!all.data.complete && <p class="muted">Searched the first {all.data.items.length} principals only.</p>}
      {found.length === 0 ? (
        <Empty>No principal’s name contains “{q.trim()}”.</Empty>
      ) : (
        <ul>
          {found.slice(0, SHOWN).map((p) => (
            <li key={p.id}>
              <Link to="/access/principals" query={{ q, principal: p.id }}>
                {p.display_name && p.display_name !== p.name ? `${p.display_name} (${p.name})` : p.name}
              </Link>{' '}
              <span class="muted">
                {p.kind === 'service' ? 'job' : 'person'}
                {p.status === 'disabled' ? ', disabled' : ''}
              </span>
            </li>
          ))}
        </ul>
      )}
      {found.length > SHOWN && <p class="muted">{found.length - SHOWN} more match; type more of the name.</p>}
    </section>
  );
}
