/**
 * The console's shell: sign-in when there is no session; otherwise the
 * menu, the page the path names, the step-up dialog, and the idle timer.
 *
 * Idle sessions end: after the server's idle timeout (`idle_timeout_seconds`
 * from /v1/me) without a key press, click or scroll in the tab, the console
 * signs out (the server would refuse the session anyway). Sessions refresh:
 * the API client exchanges the refresh token when the access token lapses.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from './api/client.ts';
import { clearSession, hasSession, onSessionChange } from './api/session.ts';
import { MeContext, type Me } from './me.ts';
import { Home } from './pages/Home.tsx';
import { PAGES, SECTIONS } from './pages/registry.ts';
import { SignIn } from './pages/signin/SignIn.tsx';
import { visible } from './pages/visible.ts';
import { Link, match, navigate, useLocation } from './router.tsx';
import { ErrorNote, Loading } from './ui/states.tsx';
import { StepUpHost } from './ui/StepUp.tsx';
import { ThemeSwitch } from './ui/theme.tsx';
import { useLoad } from './ui/useLoad.ts';

const ACTIVITY = ['keydown', 'pointerdown', 'wheel', 'touchstart'] as const;
// The last sign of a person at this tab: any input, or the start of the session. Tracked from
// the first moment, not from when the timer starts, so a tab left alone is measured from then.
let lastActivity = Date.now();
for (const a of ACTIVITY) addEventListener(a, () => void (lastActivity = Date.now()), { passive: true, capture: true });
onSessionChange(() => void (lastActivity = Date.now()));

function useIdleLogout(seconds: number | undefined, onIdle: () => void): void {
  useEffect(() => {
    if (!seconds) return;
    const check = () => Date.now() - lastActivity > seconds * 1000 && onIdle();
    check();
    const t = setInterval(check, 5_000);
    return () => clearInterval(t);
  }, [seconds]);
}

export async function signOut(): Promise<void> {
  try {
    await api('POST', '/v1/auth/logout');
  } catch {
    // The session may already be over; the tab forgets it either way.
  }
  clearSession();
}

export function App() {
  const [signedIn, setSignedIn] = useState(hasSession());
  const [notice, setNotice] = useState<string>();
  useEffect(() => onSessionChange(() => setSignedIn(hasSession())), []);
  return signedIn ? (
    <SignedIn
      onIdle={(minutes) => {
        setNotice(`You were signed out after ${minutes} minutes without activity.`);
        void signOut();
      }}
    />
  ) : (
    <>
      <Header />
      <SignIn notice={notice} />
    </>
  );
}

function Header({ me }: { me?: Me }) {
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Link to="/" class="brand">
        Custos
      </Link>
      <div class="spacer" />
      <ThemeSwitch />
      {me && (
        <>
          <span class="who">{me.username}</span>
          <button type="button" class="secondary" onClick={() => void signOut().then(() => navigate('/'))}>
            Sign out
          </button>
        </>
      )}
    </header>
  );
}

function SignedIn({ onIdle }: { onIdle: (minutes: number) => void }) {
  const me = useLoad<Me>((signal) => api('GET', '/v1/me', { signal }), []);
  const loc = useLocation();
  const idle = me.data?.idle_timeout_seconds;
  useIdleLogout(idle, () => onIdle(Math.round((idle ?? 0) / 60)));
  const ctx = useMemo(() => (me.data ? { me: me.data, reload: me.reload } : undefined), [me.data]);
  const route = useMemo(() => {
    for (const p of PAGES) {
      const params = match(p.path, loc.path);
      if (params) return { page: p, params };
    }
    return undefined;
  }, [loc.path]);

  useEffect(() => {
    document.title = route ? `${route.page.title} · Custos` : 'Custos console';
  }, [route]);

  if (me.error) return <ErrorNote error={me.error} onRetry={me.reload} />;
  if (!ctx) return <Loading />;
  return (
    <MeContext.Provider value={ctx}>
      <Header me={ctx.me} />
      <div class="layout">
        <nav class="menu" aria-label="Console">
          {SECTIONS.map((s) => {
            const pages = PAGES.filter((p) => p.nav === s && visible(p, ctx.me));
            return pages.length === 0 ? null : (
              <div key={s}>
                <h2>{s}</h2>
                <ul>
                  {pages.map((p) => (
                    <li key={p.path}>
                      <Link to={p.path} aria-current={loc.path === p.path ? 'page' : undefined}>
                        {p.title}
                      </Link>
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
        </nav>
        {route ? (
          <route.page.component key={route.page.path} params={route.params} query={loc.query} />
        ) : loc.path === '/' ? (
          <Home />
        ) : (
          <main id="main">
            <h1>Not found</h1>
            <p>
              No console page at {loc.path}. <Link to="/">Back to the start</Link>.
            </p>
          </main>
        )}
      </div>
      <StepUpHost />
    </MeContext.Provider>
  );
}
