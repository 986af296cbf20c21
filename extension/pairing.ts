/**
 * What the options page accepts: a bare token (the daemon on its default address),
 * or a pairing code `teddy://HOST:PORT/#TOKEN` that carries both, so a user pastes
 * one string instead of two.
 */
export const DEFAULT_ADDRESS = 'ws://127.0.0.1:47621';

export type PairingInput = { address: string; token: string } | { error: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Normalises a daemon address; only loopback is accepted, as the daemon listens nowhere else. */
export function normaliseAddress(raw: string): string | { error: string } {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `ws://${text}`);
  } catch {
    return { error: `“${text}” is not an address (expected e.g. ${DEFAULT_ADDRESS})` };
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'http:') return { error: 'the daemon speaks ws:// on loopback' };
  if (!LOOPBACK.has(url.hostname)) return { error: 'the daemon only listens on this machine (127.0.0.1)' };
  if (!url.port) return { error: 'the address needs a port, e.g. 127.0.0.1:47621' };
  return `ws://${url.hostname}:${url.port}`;
}

export function parsePairing(codeOrToken: string, address: string = DEFAULT_ADDRESS): PairingInput {
  const text = codeOrToken.trim();
  if (!text) return { error: 'paste the pairing code or the token printed by `teddy token`' };
  if (text.toLowerCase().startsWith('teddy://')) {
    const rest = text.slice('teddy://'.length);
    const hash = rest.indexOf('#');
    if (hash < 0) return { error: 'the pairing code has no token (expected teddy://HOST:PORT/#TOKEN)' };
    const token = decodeURIComponent(rest.slice(hash + 1)).trim();
    const normalised = normaliseAddress(rest.slice(0, hash).replace(/\/$/, ''));
    if (typeof normalised !== 'string') return normalised;
    if (!isTokenShaped(token)) return { error: 'the token in the pairing code looks wrong' };
    return { address: normalised, token };
  }
  if (!isTokenShaped(text)) return { error: 'that does not look like a token (letters, digits, - and _ only)' };
  const normalised = normaliseAddress(address);
  if (typeof normalised !== 'string') return normalised;
  return { address: normalised, token: text };
}

export function pairingCode(address: string, token: string): string {
  return `teddy://${address.replace(/^ws:\/\//, '')}/#${token}`;
}

function isTokenShaped(token: string): boolean {
  return /^[A-Za-z0-9_-]{8,256}$/.test(token);
}
