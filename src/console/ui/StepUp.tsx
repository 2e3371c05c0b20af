/**
 * The step-up dialog. Custos refuses sensitive actions (approvals, policy
 * pushes, factor changes…) with `401 step_up_required` unless the session
 * proved a second factor within the step-up window; the API client then
 * opens this dialog, and retries the action once the person has entered a
 * fresh code or used a passkey. Cancelling leaves the action refused.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, setStepUpHandler } from '../api/client.ts';
import { getAssertion, webauthnAvailable } from '../webauthn.ts';
import { Dialog } from './Dialog.tsx';
import { Field } from './Field.tsx';
import { messageOf } from './states.tsx';

export function StepUpHost() {
  const [pending, setPending] = useState<((ok: boolean) => void) | undefined>();
  const [code, setCode] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setStepUpHandler(
      () =>
        new Promise<boolean>((resolve) => {
          setCode('');
          setError(undefined);
          setPending(() => resolve);
        }),
    );
    return () => setStepUpHandler(undefined);
  }, []);

  const finish = (ok: boolean) => {
    pending?.(ok);
    setPending(undefined);
  };
  const attempt = async (how: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await how();
      finish(true);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  // Step-up calls go straight to the API (a step-up never asks for a step-up).
  const withCode = () => api('POST', '/v1/auth/step-up/totp', { body: { code: code.trim() } });
  const withPasskey = async () => {
    const options = await api('POST', '/v1/auth/step-up/webauthn/options');
    await api('POST', '/v1/auth/step-up/webauthn/verify', { body: { response: await getAssertion(options) } });
  };

  return (
    <Dialog title="Confirm it is you" open={pending !== undefined} onClose={() => finish(false)}>
      <p>This action needs a fresh second factor.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void attempt(withCode);
        }}
      >
        <Field label="Authenticator code" inputMode="numeric" autocomplete="one-time-code" value={code} onValue={setCode} required />
        <div class="actions">
          <button type="submit" disabled={busy || !code.trim()}>
            Confirm with code
          </button>
          {webauthnAvailable() && (
            <button type="button" disabled={busy} onClick={() => void attempt(withPasskey)}>
              Use a passkey
            </button>
          )}
          <button type="button" class="secondary" onClick={() => finish(false)}>
            Cancel
          </button>
        </div>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}
