import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config.ts';
import { BlockedAddressError, guardedLookup, isPublicAddress } from './addressPolicy.ts';
import { checkUrl, fetchUrl } from './fetcher.ts';

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
      expect(checkUrl(url, isPublicAddress)).toMatchObject({ ok: false, reason: 'bad_url' });
    }
  });

  it('refuses literal private addresses and localhost unless allowed', () => {
    for (const url of ['http://127.0.0.1:47621/', 'http://[::1]/x.jpg', 'http://169.254.169.254/', 'http://localhost/a.jpg', 'http://2130706433/']) {
      expect(checkUrl(url, isPublicAddress), url).toMatchObject({ ok: false, reason: 'blocked_address' });
    }
    expect(checkUrl('http://127.0.0.1/a.jpg', () => true)).toBeInstanceOf(URL);
  });

  it('refuses URLs with credentials and accepts ordinary image URLs', () => {
    expect(checkUrl('https://user:pw@x.test/a.jpg', isPublicAddress)).toMatchObject({ ok: false, reason: 'bad_url' });
    expect(checkUrl('https://images.example.com/bear.jpg?w=800', isPublicAddress)).toBeInstanceOf(URL);
  });
});

describe('guardedLookup', () => {
  it('refuses a name that resolves to loopback, at connection time', async () => {
    const err = await new Promise<unknown>((resolve) => guardedLookup(isPublicAddress)('localhost', { all: true }, (e) => resolve(e)));
    expect(err).toBeInstanceOf(BlockedAddressError);
  });

  it('resolves it when private addresses are allowed', async () => {
    const result = await new Promise<unknown>((resolve) => guardedLookup(() => true)('localhost', {}, (_e, address) => resolve(address)));
    expect(result).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});

describe('fetchUrl against hostile servers', () => {
  const hits: string[] = [];
  let allowedServer: http.Server;
  let forbiddenServer: http.Server;
  let allowedPort = 0;
  let forbiddenPort = 0;

  beforeAll(async () => {
    forbiddenServer = http.createServer((req, res) => {
      hits.push(`forbidden ${req.url}`);
      res.end('internal secrets');
    });
    await new Promise<void>((r) => forbiddenServer.listen(0, '127.0.0.2', () => r()));
    forbiddenPort = (forbiddenServer.address() as AddressInfo).port;
    allowedServer = http.createServer((req, res) => {
      hits.push(`allowed ${req.url}`);
      if (req.url === '/to-internal') {
        res.writeHead(302, { location: `http://127.0.0.2:${forbiddenPort}/admin` });
        res.end();
      } else if (req.url === '/endless') {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = (): void => {
          while (res.write(chunk));
          res.once('drain', pump);
        };
        res.on('error', () => {});
        pump();
      } else res.end();
    });
    await new Promise<void>((r) => allowedServer.listen(0, '127.0.0.1', () => r()));
    allowedPort = (allowedServer.address() as AddressInfo).port;
  });

  afterAll(() => {
    allowedServer.closeAllConnections();
    forbiddenServer.closeAllConnections();
    allowedServer.close();
    forbiddenServer.close();
  });

  // Only 127.0.0.1 counts as "public" here, so 127.0.0.2 plays the internal network.
  const settings = { ...buildConfig({ dataDir: '/tmp/unused' }).download, addressCheck: (ip: string) => ip === '127.0.0.1', maxBytes: 1024 * 1024 };

  it('refuses a redirect that leads to a refused address, without connecting to it', async () => {
    const result = await fetchUrl(`http://127.0.0.1:${allowedPort}/to-internal`, settings);
    expect(result).toMatchObject({ ok: false, reason: 'blocked_address' });
    expect(hits.filter((h) => h.startsWith('forbidden'))).toEqual([]);
  });

  it('stops an endless body at the byte limit', async () => {
    const result = await fetchUrl(`http://127.0.0.1:${allowedPort}/endless`, settings);
    expect(result).toMatchObject({ ok: false, reason: 'too_large' });
  });
});
