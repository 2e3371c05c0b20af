/**
 * The console's session: the token pair from a login, kept for this tab.
 *
 * The access token lives in memory; the refresh token in sessionStorage, so
 * a reload keeps the tab signed in but another tab, or the browser after
 * closing, does not. No cookie is used, so no request carries a credential
 * the page did not add itself (no CSRF), and the strict Content-Security-Policy
 * (no inline or foreign script) is what keeps other code from reading it.
 * Refresh tokens are single use (reuse revokes the session server-side).
 */
export interface SessionTokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
  scope: 'full' | 'enrollment';
}

const KEY = 'custos.refresh';
let access: { token: string; expiresAt: number } | undefined;
const listeners = new Set<() => void>();

export function accessToken(): string | undefined {
  return access && access.expiresAt > Date.now() ? access.token : undefined;
}

export function storedRefreshToken(): string | undefined {
  return sessionStorage.getItem(KEY) ?? undefined;
}

export function saveSession(s: SessionTokens): void {
  // A few seconds early, so a request never leaves with a token about to lapse.
  access = { token: s.access_token, expiresAt: Date.now() + Math.max(0, s.expires_in - 5) * 1000 };
  sessionStorage.setItem(KEY, s.refresh_token);
  for (const l of listeners) l();
}

export function clearSession(): void {
  access = undefined;
  sessionStorage.removeItem(KEY);
  for (const l of listeners) l();
}

export function hasSession(): boolean {
  return access !== undefined || storedRefreshToken() !== undefined;
}

/** Called whenever the session starts or ends. */
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
