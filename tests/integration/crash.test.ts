import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/protocol.ts';
import { startDaemonProcess, tempDataDir, waitFor, waitForJob, type DaemonProcess } from '../helpers/daemonProcess.ts';
import { filesUnder, integrityOf } from '../helpers/files.ts';
import { generatedJpeg } from '../helpers/images.ts';
import { serveBytes, startImageServer, type ImageServer } from '../helpers/imageServer.ts';

const COUNT = 120;
let server: ImageServer;
let dataDir: string;
let restarted: DaemonProcess | undefined;

const storedFiles = (): string[] => filesUnder(join(dataDir, 'images'), dataDir);

beforeAll(async () => {
  const images = await Promise.all(Array.from({ length: COUNT }, (_, i) => generatedJpeg(1000 + i, 200, 150)));
  server = await startImageServer(Object.fromEntries(images.map((data, i) => [`/img/${i}.jpg`, serveBytes(data, 'image/jpeg', 60)])));
  dataDir = tempDataDir();
});

afterAll(async () => {
  await restarted?.stop();
  await server?.close();
});

describe('a daemon killed with SIGKILL in the middle of a download', () => {
  let interruptedJob: Job;

  it('is killed while the download is under way', async () => {
    const daemon = await startDaemonProcess(dataDir, { TEDDY_DOWNLOAD_CONCURRENCY: '4' });
    const client = await daemon.client();
    await client.request('dataset.create', { name: 'bears' });
    await client.request('urls.add', {
      dataset: 'bears',
      items: Array.from({ length: COUNT }, (_, i) => ({ url: server.url(`/img/${i}.jpg`), className: i % 2 ? 'black' : 'grizzly' })),
    });
    const { job } = await client.request('job.download', { dataset: 'bears' });
    await waitFor(
      () => client.request('job.get', { jobId: job.id }),
      (r) => r.job.progress.done >= 20,
    );
    await daemon.kill();
    expect(daemon.child.signalCode).toBe('SIGKILL');
    interruptedJob = job;
  });

  it('leaves a store that passes the integrity check', () => {
    expect(integrityOf(dataDir)).toBe('ok');
  });

  it('reports the job as interrupted after the restart, and leaves no orphan or temp file', async () => {
    // What a kill between writing a file and recording it leaves behind, made certain here.
    mkdirSync(join(dataDir, 'images', 'ee'), { recursive: true });
    writeFileSync(join(dataDir, 'images', 'ee', `${'e'.repeat(64)}.jpg`), 'unrecorded');
    writeFileSync(join(dataDir, 'tmp', 'half-written.part'), 'partial');
    restarted = await startDaemonProcess(dataDir);
    const client = await restarted.client();
    const { job } = await client.request('job.get', { jobId: interruptedJob.id });
    expect(job.state).toBe('interrupted');
    expect(job.error).toMatch(/daemon stopped/);

    const db = new Database(join(dataDir, 'teddy.db'), { readonly: true });
    const referenced = new Set((db.prepare('SELECT file FROM images WHERE file IS NOT NULL').all() as { file: string }[]).map((r) => r.file));
    db.close();
    expect(storedFiles().filter((f) => !referenced.has(f))).toEqual([]);
    expect(storedFiles().length).toBe(referenced.size);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
    client.close();
  });

  it('finishes the rest with a new download, every image landing exactly once', async () => {
    const client = await restarted!.client();
    const { job } = await client.request('job.download', { dataset: 'bears' });
    const done = await waitForJob(client, job.id);
    expect(done.state).toBe('done');
    expect(done.progress.total).toBeLessThan(COUNT);
    const stats = await client.request('dataset.stats', { dataset: 'bears' });
    expect(stats.byStatus).toEqual({ ok: COUNT });
    expect(storedFiles()).toHaveLength(COUNT);
    client.close();
  });
});

describe('one daemon per data directory', () => {
  it('refuses a second daemon on a data directory in use, and takes over a lock left by a killed one', async () => {
    const dir = tempDataDir();
    const first = await startDaemonProcess(dir);
    try {
      await expect(startDaemonProcess(dir)).rejects.toThrow(/another Teddy daemon \(pid \d+\) is using/);
      // The first one was left alone: it still answers.
      const client = await first.client();
      expect((await client.request('status', {})).pid).toBe(first.child.pid);
      client.close();
    } finally {
      await first.kill();
    }
    // Its lock survives the SIGKILL; a new daemon sees its holder is gone and starts.
    expect(readdirSync(dir)).toContain('daemon.lock');
    const next = await startDaemonProcess(dir);
    await next.stop();
    expect(readdirSync(dir)).not.toContain('daemon.lock');
  });
});
