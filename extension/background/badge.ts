/** The toolbar badge shows the daemon connection at a glance. */
import type { LinkState } from '../messages.ts';

export interface Badge {
  text: string;
  color: string;
  title: string;
}

export function badgeFor(state: LinkState): Badge {
  switch (state.status) {
    case 'connected':
      return { text: '', color: '#2e7d32', title: `Teddy — connected to the daemon ${state.daemonVersion ?? ''}`.trim() };
    case 'connecting':
      return { text: '…', color: '#757575', title: 'Teddy — connecting to the daemon' };
    case 'unpaired':
      return { text: 'SET', color: '#f9a825', title: 'Teddy — not paired: open the options and paste the token' };
    case 'unauthorized':
      return { text: 'KEY', color: '#c62828', title: 'Teddy — the daemon refused the token: pair again' };
    case 'incompatible':
      return { text: 'VER', color: '#c62828', title: `Teddy — ${state.message ?? 'protocol version mismatch'}` };
    case 'disconnected':
      return { text: 'OFF', color: '#c62828', title: `Teddy — daemon not reachable${state.message ? `: ${state.message}` : ''}; retrying` };
  }
}
