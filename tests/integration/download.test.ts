import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TeddyClient } from '../../shared/client.ts';
import type { Image, Job } from '../../shared/protocol.ts';
import { buildConfig } from '../../daemon/config.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { connectClient, startDaemonProcess, tempDataDir, type DaemonProcess } from '../helpers/daemonProcess.ts';
import { filesUnder } from '../helpers/files.ts';
import { generatedJpeg } from '../helpers/images.ts';
import { serveBytes, startImageServer, type ImageServer } from '../helpers/imageServer.ts';

const GOOD = 6;
let server: ImageServer;
let daemon: DaemonProcess;
let client: TeddyClient;
let images: Map<string, Image>;
let finished: Job;

beforeAll(async () => {
  const good = await Promise.all(Array.from({ length: GOOD }, (_, i) => generatedJpeg(i + 1, 120 + i * 10, 90)));
  const truncated = (await generatedJpeg(99, 400, 300)).subarray(0, 3000);
  const bomb = await sharp({ create: { width: 10000, height: 10000, channels: 3, background: '#553311' } }).png().toBuffer();
  const tiny = await sharp({ create: { width: 12, height: 12, channels: 3, background: '#000' } }).png().toBuffer();
  let flakyCalls = 0;
  server = await startImageServer({
    ...Object.fromEntries(good.map((data, i) => [`/good/${i}.jpg`, serveBytes(data)])),
    // The first good image again under a second URL.
    '/mirror/copy-of-0.jpg': serveBytes(good[0]!),
    '/truncated.jpg': serveBytes(truncated),
    '/html-as-jpeg.jpg': serveBytes(Buffer.from('<!DOCTYPE html><html><body>Please log in</body></html>'), 'image/jpeg'),
    '/huge.jpg': (_req, res) => {
      // 30 MB streamed without a length, so only counting while streaming can catch it.
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(1024 * 1024, 0xff);
      let sent = 0;
      const pump = (): void => {
        while (sent < 30) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
    },
    '/loop.jpg': (_req, res) => {
      res.writeHead(302, { location: '/loop.jpg' });
      res.end();
    },
    '/slow.jpg': (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const t = setInterval(() => res.write(Buffer.from([0xff])), 200);
      res.on('close', () => clearInterval(t));
    },
    '/bomb.png': serveBytes(bomb, 'image/png'),
    '/tiny.png': serveBytes(tiny, 'image/png'),
    '/flaky.jpg': (req, res) => {
      flakyCalls++;
      if (flakyCalls === 1) {
        res.writeHead(503);
        res.end('try later');
      } else serveBytes(good[5]!)(req, res);
    },
  });

  daemon = await startDaemonProcess(tempDataDir(), {
    TEDDY_TOTAL_TIMEOUT_MS: '2000',
    TEDDY_CONNECT_TIMEOUT_MS: '1000',
    TEDDY_RETRIES: '2',
    TEDDY_RETRY_DELAY_MS: '50',
  });
  client = await daemon.client();
  await client.request('dataset.create', { name: 'bears' });
  const urls = [
    ...Array.from({ length: GOOD - 1 }, (_, i) => `/good/${i}.jpg`),
    '/mirror/copy-of-0.jpg',
    '/truncated.jpg',
    '/html-as-jpeg.jpg',
    '/huge.jpg',
    '/loop.jpg',
    '/slow.jpg',
    '/missing.jpg',
    '/bomb.png',
    '/tiny.png',
    '/flaky.jpg',
  ];
  const added = await client.request('urls.add', {
    dataset: 'bears',
    items: urls.map((path, i) => ({ url: server.url(path), className: i % 2 ? 'grizzly' : 'teddys', sourcePage: 'https://example.test/search' })),
  });
  expect(added).toMatchObject({ added: urls.length, duplicates: 0 });

  const { job } = await client.request('job.download', { dataset: 'bears' });
  finished = await new Promise<Job>((resolve) => {
    client.onEvent((e) => e.kind === 'job.finished' && e.job.id === job.id && resolve(e.job));
  });
  const listed = await client.request('images.list', { dataset: 'bears', limit: 1000 });
  images = new Map(listed.images.map((i) => [new URL(i.url).pathname, i]));
});

afterAll(async () => {
  client?.close();
  await daemon?.stop();
  await server?.close();
});

describe('download job against good and hostile URLs', () => {
  it('finishes with every URL accounted for', () => {
    expect(finished.state).toBe('done');
    expect(finished.progress.done).toBe(15);
    expect(finished.progress.ok + finished.progress.failed).toBe(15);
  });

  it('lands each good image exactly once, with size, hashes and split', () => {
    const ok = [...images.values()].filter((i) => i.status === 'ok');
    // The same picture under two URLs: whichever download finished first is the one kept.
    const twin = images.get('/good/0.jpg')!.status === 'ok' ? '/good/0.jpg' : '/mirror/copy-of-0.jpg';
    expect(ok.map((i) => new URL(i.url).pathname).sort()).toEqual(
      [...Array.from({ length: GOOD - 2 }, (_, i) => `/good/${i + 1}.jpg`), twin, '/flaky.jpg'].sort(),
    );
    for (const image of ok) {
      expect(image.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(image.split === 'train' || image.split === 'valid').toBe(true);
      expect(image.width).toBeGreaterThan(0);
      expect(image.sourcePage).toBe('https://example.test/search');
    }
    expect(new Set(ok.map((i) => i.sha256)).size).toBe(ok.length);
  });

  it('records the reason for every bad URL', () => {
    const reasons = Object.fromEntries([...images.entries()].filter(([, i]) => i.status !== 'ok').map(([path, i]) => [path, i.failureReason]));
    const loser = images.get('/good/0.jpg')!.status === 'ok' ? '/mirror/copy-of-0.jpg' : '/good/0.jpg';
    expect(reasons).toEqual({
      [loser]: 'duplicate',
      '/truncated.jpg': 'undecodable',
      '/html-as-jpeg.jpg': 'not_an_image',
      '/huge.jpg': 'too_large',
      '/loop.jpg': 'redirect_limit',
      '/slow.jpg': 'timeout',
      '/missing.jpg': 'http_status',
      '/bomb.png': 'too_many_pixels',
      '/tiny.png': 'too_small',
    });
    expect(images.get('/missing.jpg')!.failureDetail).toContain('404');
  });

  it('retries a 5xx answer and then succeeds', () => {
    expect(images.get('/flaky.jpg')!.status).toBe('ok');
    expect(server.hits.get('/flaky.jpg')).toBe(2);
  });

  it('retries a timeout but not a 404', () => {
    expect(server.hits.get('/missing.jpg')).toBe(1);
    expect(server.hits.get('/slow.jpg')).toBe(3);
  });

  it('leaves exactly one file per good image and no half-written file', () => {
    const stored = filesUnder(join(daemon.dataDir, 'images'));
    expect(stored).toHaveLength(GOOD);
    expect(filesUnder(join(daemon.dataDir, 'tmp'))).toEqual([]);
  });

  it('keeps serving after all of it', async () => {
    const stats = await client.request('dataset.stats', { dataset: 'bears' });
    expect(stats.byStatus).toMatchObject({ ok: GOOD, failed: 8, duplicate: 1 });
    expect(stats.classes.reduce((n, c) => n + c.train + c.valid, 0)).toBe(GOOD);
  });

  it('ignores a URL added a second time', async () => {
    const again = await client.request('urls.add', { dataset: 'bears', items: [{ url: server.url('/good/0.jpg'), className: 'teddys' }] });
    expect(again).toMatchObject({ added: 0, duplicates: 1 });
  });

  it('refuses loopback, private and link-local URLs unless the daemon was told to allow them', async () => {
    const strict = await startDaemon(buildConfig({ dataDir: tempDataDir(), port: 0, allowPrivate: false }));
    const strictClient = await connectClient(strict.port, strict.token);
    try {
      await strictClient.request('dataset.create', { name: 'x' });
      await strictClient.request('urls.add', {
        dataset: 'x',
        items: [server.url('/good/1.jpg'), 'http://localhost:1/x.jpg', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/a.jpg'].map(
          (url) => ({ url, className: 'a' }),
        ),
      });
      const hitsBefore = server.hits.get('/good/1.jpg');
      const { job } = await strictClient.request('job.download', { dataset: 'x' });
      await strict.jobs.settle(job.id);
      const listed = await strictClient.request('images.list', { dataset: 'x' });
      expect(listed.images.map((i) => i.failureReason)).toEqual(['blocked_address', 'blocked_address', 'blocked_address', 'blocked_address']);
      expect(server.hits.get('/good/1.jpg')).toBe(hitsBefore);
    } finally {
      strictClient.close();
      await strict.stop();
    }
  });
});
