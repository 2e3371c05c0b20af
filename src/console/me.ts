/** Who is signed in (`GET /v1/me`), shared by every page. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export interface Me {
  principal_id: string;
  username: string;
  scope: 'full' | 'enrollment';
  amr: string[];
  expires_at: string;
  mfa_at: string | null;
  mfa_method: 'totp' | 'webauthn' | 'recovery' | null;
  roles: string[];
  permissions: string[];
  idle_timeout_seconds?: number;
}

export const MeContext = createContext<{ me: Me; reload: () => void } | undefined>(undefined);

export function useMe(): Me {
  const m = useContext(MeContext);
  if (!m) throw new Error('useMe outside a signed-in page');
  return m.me;
}

export function useReloadMe(): () => void {
  return useContext(MeContext)?.reload ?? (() => undefined);
}

export const can = (me: Me, permission: string): boolean => me.permissions.includes(permission);
