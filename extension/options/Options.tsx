/** Pairing: the daemon's address and its token (or one pairing code carrying both). */
import { useEffect, useState } from 'preact/hooks';
import { ask } from '../ask.ts';
import { DEFAULT_ADDRESS, parsePairing } from '../pairing.ts';
import { errorText } from '../ui/errors.ts';
import { describeState, useLinkState } from '../ui/hooks.ts';

export function Options() {
  const state = useLinkState();
  const [address, setAddress] = useState(DEFAULT_ADDRESS);
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    ask({ kind: 'settings.get' }).then(
      ({ settings }) => {
        if (settings) setAddress(settings.address);
      },
      () => {},
    );
  }, []);

  const onTokenInput = (value: string): void => {
    setToken(value);
    // A pasted pairing code carries the address: show it.
    const parsed = parsePairing(value, address);
    if (value.trim().toLowerCase().startsWith('teddy://') && 'address' in parsed) setAddress(parsed.address);
  };

  const pair = async (e: Event): Promise<void> => {
    e.preventDefault();
    const parsed = parsePairing(token, address);
    if ('error' in parsed) {
      setError(parsed.error);
      return;
    }
    setError(null);
    setBusy(true);
    try {
      await ask({ kind: 'pairing.set', address: parsed.address, token: parsed.token });
      setToken('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main style={{ maxWidth: '560px' }}>
      <h1>Teddy — pair with the daemon</h1>
      <p class="muted">
        Start the daemon with <code>npx teddy start</code>, then paste the token it prints (or run <code>npx teddy token</code>).
      </p>
      <form onSubmit={pair}>
        <label for="token">Pairing code or token</label>
        <input id="token" type="text" autocomplete="off" spellcheck={false} style={{ width: '100%' }} value={token} onInput={(e) => onTokenInput(e.currentTarget.value)} />
        <label for="address">Daemon address</label>
        <input id="address" type="text" style={{ width: '100%' }} value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
        <p>
          <button id="pair" type="submit" disabled={busy}>
            Pair
          </button>
        </p>
      </form>
      {error && <p class="error" id="pair-error">{error}</p>}
      <div id="state" class={`state ${state?.status ?? ''}`} data-status={state?.status ?? ''}>
        {describeState(state)}
      </div>
    </main>
  );
}
