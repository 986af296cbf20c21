import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TeddyClient } from '../../shared/client.ts';
import type { Job } from '../../shared/protocol.ts';
import { startDaemonProcess, waitForJob, type DaemonProcess } from '../helpers/daemonProcess.ts';
import { integrityOf } from '../helpers/files.ts';
import { serveBytes, startImageServer, type ImageServer } from '../helpers/imageServer.ts';

/** A small tmpfs as the data directory: the only honest way to fill a disk in a test. */
const mountPoint = mkdtempSync(join(tmpdir(), 'teddy-full-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mountPoint], { stdio: 'ignore' });
  mounted = true;
} catch {
  mounted = false;
}

let server: ImageServer;
let daemon: DaemonProcess;
let client: TeddyClient;

async function noisyJpeg(seed: number): Promise<Buffer> {
  // Noise does not compress: each stored image takes real room.
  return sharp({ create: { width: 700, height: 520, channels: 3, background: { r: seed % 255, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .jpeg({ quality: 92 })
    .toBuffer();
}

async function download(): Promise<Job> {
  const { job } = await client.request('job.download', { dataset: 'd' });
  return waitForJob(client, job.id);
}

describe.skipIf(!mounted)('a full disk', () => {
  beforeAll(async () => {
    const images = await Promise.all(Array.from({ length: 60 }, (_, i) => noisyJpeg(i)));
    server = await startImageServer(Object.fromEntries(images.map((d, i) => [`/${i}.jpg`, serveBytes(d)])));
    mkdirSync(join(mountPoint, 'data'));
    daemon = await startDaemonProcess(join(mountPoint, 'data'), { TEDDY_DOWNLOAD_CONCURRENCY: '2' });
    client = await daemon.client();
    await client.request('dataset.create', { name: 'd' });
  });

  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await server?.close();
    if (mounted) execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('stops the download with a clear error and keeps what was stored', async () => {
    await client.request('urls.add', { dataset: 'd', items: Array.from({ length: 5 }, (_, i) => ({ url: server.url(`/${i}.jpg`), className: 'a' })) });
    expect((await download()).state).toBe('done');
    const stored = (await client.request('images.list', { dataset: 'd', status: 'ok' })).images;
    expect(stored).toHaveLength(5);

    await client.request('urls.add', { dataset: 'd', items: Array.from({ length: 55 }, (_, i) => ({ url: server.url(`/${i + 5}.jpg`), className: 'a' })) });
    const failed = await download();
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/disk .* is full/);
    // Nothing stored before is lost, and what was not downloaded waits as pending.
    const after = await client.request('images.list', { dataset: 'd', status: 'ok', limit: 100 });
    for (const image of stored) expect(after.images.find((i) => i.id === image.id)).toBeDefined();
    for (const image of after.images) expect(existsSync(join(daemon.dataDir, image.file!))).toBe(true);
    expect((await client.request('dataset.stats', { dataset: 'd' })).byStatus.pending).toBeGreaterThan(0);
    expect(daemon.child.exitCode).toBeNull();
  });

  it('keeps a store that passes its integrity check', () => {
    expect(integrityOf(daemon.dataDir, { readonly: true })).toBe('ok');
  });

  it('finishes once room is made', async () => {
    // Room: the test remounts the tmpfs larger, as a user would free space.
    execFileSync('mount', ['-o', 'remount,size=64m', mountPoint]);
    const done = await download();
    expect(done.state).toBe('done');
    expect((await client.request('dataset.stats', { dataset: 'd' })).byStatus).toEqual({ ok: 60 });
  });
});
