import { describe, expect, it } from 'vitest';
import { DEFAULT_ADDRESS, normaliseAddress, pairingCode, parsePairing } from './pairing.ts';

describe('pairing input', () => {
  it('takes a bare token with the default or a given address', () => {
    expect(parsePairing('  abcDEF_123-xyz  ')).toEqual({ address: DEFAULT_ADDRESS, token: 'abcDEF_123-xyz' });
    expect(parsePairing('abcDEF_123-xyz', '127.0.0.1:5000')).toEqual({ address: 'ws://127.0.0.1:5000', token: 'abcDEF_123-xyz' });
  });

  it('takes a pairing code carrying address and token, and round-trips it', () => {
    expect(parsePairing('teddy://127.0.0.1:4000/#tok_tok_tok')).toEqual({ address: 'ws://127.0.0.1:4000', token: 'tok_tok_tok' });
    expect(parsePairing(pairingCode('ws://localhost:9', 'abcdefgh12'))).toEqual({ address: 'ws://localhost:9', token: 'abcdefgh12' });
  });

  it('refuses what is not a loopback daemon or not a token', () => {
    expect(parsePairing('')).toHaveProperty('error');
    expect(parsePairing('has spaces in it')).toHaveProperty('error');
    expect(parsePairing('teddy://127.0.0.1:4000/')).toHaveProperty('error');
    expect(normaliseAddress('ws://example.com:47621')).toHaveProperty('error');
    expect(normaliseAddress('127.0.0.1')).toHaveProperty('error');
    expect(normaliseAddress('http://127.0.0.1:1234/')).toBe('ws://127.0.0.1:1234');
  });
});
