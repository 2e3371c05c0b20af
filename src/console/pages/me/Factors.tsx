/**
 * Your second factors: register a passkey, add an authenticator app, remove
 * a factor (never the last one; the server refuses that with 409), and
 * replace your recovery codes. Adding a passkey and removing a factor, like
 * new recovery codes, need a fresh second factor (step-up).
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { saveSession } from '../../api/session.ts';
import { useReloadMe } from '../../me.ts';
import { Field } from '../../ui/Field.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { createCredential, webauthnAvailable } from '../../webauthn.ts';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';

interface Factor {
  id: string;
  type: 'totp' | 'webauthn';
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export function Factors() {
  const list = useLoad<{ factors: Factor[]; recovery_codes_remaining: number }>((signal) => api('GET', '/v1/me/factors', { signal }), []);
  const reloadMe = useReloadMe();
  const [passkeyName, setPasskeyName] = useState('');
  const [totp, setTotp] = useState<{ factor_id: string; secret: string; otpauth_uri: string }>();
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[]>();
  const { busy, error, status, run: runAction } = useAction();

  // Each change is followed by a fresh list of factors.
  const run = async (f: () => Promise<string | void>) => {
    if (await runAction(f)) list.reload();
  };

  const addPasskey = () =>
    run(async () => {
      const options = await api('POST', '/v1/me/webauthn/registration/options');
      const response = await createCredential(options);
      const r = await api('POST', '/v1/me/webauthn/registration/verify', { body: { name: passkeyName.trim(), response } });
      // Registered while enrolling: the answer is a full session.
      if (r.access_token) {
        saveSession(r);
        reloadMe();
      }
      setPasskeyName('');
      return `Passkey “${r.name ?? passkeyName.trim()}” registered.`;
    });
  const startTotp = () => run(async () => setTotp(await api('POST', '/v1/me/totp')));
  const confirmTotp = () =>
    run(async () => {
      const r = await api('POST', '/v1/me/totp/confirm', { body: { factor_id: totp!.factor_id, code: code.trim() } });
      if (r.access_token) {
        saveSession(r);
        reloadMe();
      }
      setTotp(undefined);
      setCode('');
      return 'Authenticator app added.';
    });
  const remove = (f: Factor) =>
    run(async () => {
      await api('DELETE', `/v1/me/factors/${encodeURIComponent(f.id)}`);
      return `${f.name} removed.`;
    });
  const newCodes = () => run(async () => setCodes((await api<{ codes: string[] }>('POST', '/v1/me/recovery-codes')).codes));

  return (
    <main id="main">
      <h1>Your sign-in factors</h1>
      {list.error ? (
        <ErrorNote error={list.error} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : (
        <>
          <Table caption="Second factors" head={['Name', 'Kind', 'Added', 'Last used', '']}>
            {list.data.factors.map((f) => (
              <tr key={f.id}>
                <td>{f.name}</td>
                <td>{f.type === 'webauthn' ? 'Passkey' : 'Authenticator app'}</td>
                <td>
                  <Time value={f.created_at} />
                </td>
                <td>
                  <Time value={f.last_used_at} />
                </td>
                <td>
                  <button type="button" class="danger" disabled={busy} aria-label={`Remove ${f.name}`} onClick={() => void remove(f)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </Table>
          <p>{list.data.recovery_codes_remaining} recovery codes left.</p>
        </>
      )}

      <section aria-labelledby="add-passkey">
        <h2 id="add-passkey">Add a passkey</h2>
        {webauthnAvailable() ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void addPasskey();
            }}
          >
            <Field label="Passkey name" value={passkeyName} onValue={setPasskeyName} maxLength={100} required placeholder="Work laptop" />
            <button type="submit" disabled={busy || !passkeyName.trim()}>
              Register passkey
            </button>
          </form>
        ) : (
          <p>This browser cannot create passkeys.</p>
        )}
      </section>

      <section aria-labelledby="add-totp">
        <h2 id="add-totp">Add an authenticator app</h2>
        {!totp ? (
          <button type="button" disabled={busy} onClick={() => void startTotp()}>
            Set up an authenticator app
          </button>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void confirmTotp();
            }}
          >
            <p>
              Enter this key in your authenticator app: <code aria-label="Authenticator key">{totp.secret}</code>
            </p>
            <p class="muted">
              Or open <a href={totp.otpauth_uri}>the otpauth link</a> on the device with the app.
            </p>
            <Field label="First code from the app" inputMode="numeric" autocomplete="one-time-code" value={code} onValue={setCode} required />
            <button type="submit" disabled={busy}>
              Confirm
            </button>
          </form>
        )}
      </section>

      <section aria-labelledby="recovery">
        <h2 id="recovery">Recovery codes</h2>
        <button type="button" disabled={busy} onClick={() => void newCodes()}>
          Generate new recovery codes
        </button>
        {codes && (
          <>
            <p>Keep these somewhere safe; each works once, and they are not shown again.</p>
            <ul aria-label="New recovery codes" class="codes">
              {codes.map((c) => (
                <li key={c}>
                  <code>{c}</code>
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      <Outcome status={status} error={error} />
    </main>
  );
}
