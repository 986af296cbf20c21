/** Preact hooks shared by the popup and the options page. */
import { useEffect, useState } from 'preact/hooks';
import browser from 'webextension-polyfill';
import { ask } from '../ask.ts';
import { Broadcast, type LinkState } from '../messages.ts';

export function useBroadcast(listener: (message: Broadcast) => void, deps: unknown[] = []): void {
  useEffect(() => {
    const onMessage = (raw: unknown): undefined => {
      const parsed = Broadcast.safeParse(raw);
      if (parsed.success) listener(parsed.data);
      return undefined;
    };
    browser.runtime.onMessage.addListener(onMessage);
    return () => browser.runtime.onMessage.removeListener(onMessage);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}

export function useLinkState(): LinkState | null {
  const [state, setState] = useState<LinkState | null>(null);
  useEffect(() => {
    ask({ kind: 'state.get' }).then(setState, () => {});
  }, []);
  useBroadcast((message) => {
    if (message.kind === 'state.changed') setState(message.state);
  });
  return state;
}

export function describeState(state: LinkState | null): string {
  if (!state) return 'Loading…';
  switch (state.status) {
    case 'connected':
      return `Connected to the daemon ${state.daemonVersion ?? ''} at ${state.address}`;
    case 'connecting':
      return `Connecting to ${state.address}…`;
    case 'unpaired':
      return 'Not paired with a daemon.';
    case 'unauthorized':
      return `The daemon at ${state.address} refused the token. Run \`teddy token\` and pair again.`;
    case 'incompatible':
      return `The daemon at ${state.address} speaks another protocol version: ${state.message ?? ''}`;
    case 'disconnected': {
      const seconds = state.retryAt ? Math.max(0, Math.round((state.retryAt - Date.now()) / 1000)) : null;
      return `Cannot reach the daemon at ${state.address}${state.message ? ` (${state.message})` : ''}.${seconds !== null ? ` Retrying in ${seconds}s.` : ''} Is \`teddy start\` running?`;
    }
  }
}
