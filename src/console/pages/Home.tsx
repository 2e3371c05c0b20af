/** The landing page: who you are, and the pages your permissions open. */
import { useMe } from '../me.ts';
import { Link } from '../router.tsx';
import { Time } from '../ui/Time.tsx';
import { PAGES, SECTIONS } from './registry.ts';
import { visible } from './visible.ts';

// RFC 8176 method references, as a person would say them.
const METHODS: Record<string, string> = { pwd: 'password', otp: 'authenticator code', hwk: 'passkey', swk: 'passkey', kba: 'recovery code' };
const methods = (amr: string[]) => amr.map((a) => METHODS[a]).filter(Boolean).join(' and ') || 'a session';

export function Home() {
  const me = useMe();
  return (
    <main id="main">
      <h1>Welcome, {me.username}</h1>
      <p>
        Signed in with {methods(me.amr)}; the session ends <Time value={me.expires_at} /> at the latest. Roles: {me.roles.length ? me.roles.join(', ') : 'none'}.
      </p>
      {SECTIONS.map((s) => {
        const pages = PAGES.filter((p) => p.nav === s && visible(p, me));
        return pages.length === 0 ? null : (
          <section key={s} aria-labelledby={`home-${s}`}>
            <h2 id={`home-${s}`}>{s}</h2>
            <ul>
              {pages.map((p) => (
                <li key={p.path}>
                  <Link to={p.path}>{p.title}</Link>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </main>
  );
}
