import { describe, expect, it } from 'vitest';
import { BlockedAddressError, guardedLookup, isPublicAddress } from './addressPolicy.ts';
import { checkUrl } from './fetcher.ts';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['2606:4700::1111', true],
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['172.16.0.5', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['::1', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['not-an-ip', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('checkUrl', () => {
  it('refuses schemes other than http and https', () => {
    for (const url of ['file:///etc/passwd', 'ftp://x.test/a.jpg', 'javascript:alert(1)', 'data:image/png;base64,AAAA']) {
      expect(checkUrl(url, false)).toMatchObject({ ok: false, reason: 'bad_url' });
    }
  });

  it('refuses literal private addresses and localhost unless allowed', () => {
    for (const url of ['http://127.0.0.1:47621/', 'http://[::1]/x.jpg', 'http://169.254.169.254/', 'http://localhost/a.jpg', 'http://2130706433/']) {
      expect(checkUrl(url, false), url).toMatchObject({ ok: false, reason: 'blocked_address' });
    }
    expect(checkUrl('http://127.0.0.1/a.jpg', true)).toBeInstanceOf(URL);
  });

  it('refuses URLs with credentials and accepts ordinary image URLs', () => {
    expect(checkUrl('https://user:pw@x.test/a.jpg', false)).toMatchObject({ ok: false, reason: 'bad_url' });
    expect(checkUrl('https://images.example.com/bear.jpg?w=800', false)).toBeInstanceOf(URL);
  });
});

describe('guardedLookup', () => {
  it('refuses a name that resolves to loopback, at connection time', async () => {
    const err = await new Promise<unknown>((resolve) => guardedLookup(false)('localhost', { all: true }, (e) => resolve(e)));
    expect(err).toBeInstanceOf(BlockedAddressError);
  });

  it('resolves it when private addresses are allowed', async () => {
    const result = await new Promise<unknown>((resolve) => guardedLookup(true)('localhost', {}, (_e, address) => resolve(address)));
    expect(result).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});
