/**
 * Sign-in: a password, then the second factor the account has (an
 * authenticator code, a passkey, or a recovery code); or a passkey alone,
 * which proves both (user verification). Every step is the public HTTP API
 * (`/v1/auth/*`); the page keeps only the short-lived `mfa_token` between
 * the two steps.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { saveSession, type SessionTokens } from '../../api/session.ts';
import { Field } from '../../ui/Field.tsx';
import { messageOf } from '../../ui/states.tsx';
import { getAssertion, webauthnAvailable } from '../../webauthn.ts';

type Step = { kind: 'password' } | { kind: 'second'; mfaToken: string; methods: string[] };

export function SignIn({ notice }: { notice?: string }) {
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const signedIn = (s: SessionTokens) => saveSession(s);

  const submitPassword = () =>
    run(async () => {
      const r = await api<{ mfa_token: string; methods: string[] }>('POST', '/v1/auth/login', { anonymous: true, body: { username: username.trim(), password } });
      setPassword('');
      setStep({ kind: 'second', mfaToken: r.mfa_token, methods: r.methods });
    });
  const submitCode = (mfaToken: string) =>
    run(async () => {
      signedIn(await api('POST', recovery ? '/v1/auth/recovery' : '/v1/auth/totp', { anonymous: true, body: { mfa_token: mfaToken, code: code.trim() } }));
    });
  const secondWithPasskey = (mfaToken: string) =>
    run(async () => {
      const options = await api('POST', '/v1/auth/webauthn/options', { anonymous: true, body: { mfa_token: mfaToken } });
      signedIn(await api('POST', '/v1/auth/webauthn/verify', { anonymous: true, body: { mfa_token: mfaToken, response: await getAssertion(options) } }));
    });
  const passkeyOnly = () =>
    run(async () => {
      const options = await api('POST', '/v1/auth/passkey/options', { anonymous: true });
      signedIn(await api('POST', '/v1/auth/passkey/verify', { anonymous: true, body: { response: await getAssertion(options) } }));
    });

  return (
    <main id="main" class="signin">
      <h1>Sign in to Custos</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {step.kind === 'password' ? (
        <>
          <form
            aria-label="Sign in with a password"
            onSubmit={(e) => {
              e.preventDefault();
              void submitPassword();
            }}
          >
            <Field label="Username" autocomplete="username webauthn" value={username} onValue={setUsername} required />
            <Field label="Password" type="password" autocomplete="current-password" value={password} onValue={setPassword} required />
            <button type="submit" disabled={busy}>
              Continue
            </button>
          </form>
          {webauthnAvailable() && (
            <p>
              <button type="button" class="secondary" disabled={busy} onClick={() => void passkeyOnly()}>
                Sign in with a passkey
              </button>
            </p>
          )}
        </>
      ) : (
        <>
          {(step.methods.includes('totp') || step.methods.includes('recovery')) && (
            <form
              aria-label="Second factor"
              onSubmit={(e) => {
                e.preventDefault();
                void submitCode(step.mfaToken);
              }}
            >
              <Field
                label={recovery ? 'Recovery code' : 'Authenticator code'}
                inputMode={recovery ? 'text' : 'numeric'}
                autocomplete="one-time-code"
                value={code}
                onValue={setCode}
                required
                autoFocus
              />
              <button type="submit" disabled={busy}>
                Sign in
              </button>
              {step.methods.includes('recovery') && (
                <button type="button" class="link" onClick={() => setRecovery(!recovery)}>
                  {recovery ? 'Use an authenticator code instead' : 'Use a recovery code instead'}
                </button>
              )}
            </form>
          )}
          {step.methods.includes('webauthn') && webauthnAvailable() && (
            <p>
              <button type="button" disabled={busy} onClick={() => void secondWithPasskey(step.mfaToken)}>
                Use a passkey
              </button>
            </p>
          )}
          <p>
            <button
              type="button"
              class="link"
              onClick={() => {
                setStep({ kind: 'password' });
                setCode('');
              }}
            >
              Start again
            </button>
          </p>
        </>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </main>
  );
}
