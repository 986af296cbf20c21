/**
 * Fault injection: the daemon killed with SIGKILL at random moments of download, verify,
 * training, cleaning, import and export; after each kill the store must pass its integrity
 * check, hold no half-written or unrecorded file, report no job as still running, and have
 * lost no image it had. Used by the faults test and by the reliability benchmark.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../daemon/engine/rng.ts';
import { startDaemonProcess, tempDataDir, waitForJob, type DaemonProcess } from './daemonProcess.ts';
import { filesUnder, integrityOf } from './files.ts';
import { generatedJpeg } from './images.ts';
import { serveBytes, startImageServer, type ImageServer } from './imageServer.ts';
import { TINY_BACKBONE, writeTinyBackbone } from './tinyBackbone.ts';

export const FAULT_OPERATIONS = ['download', 'verify', 'train', 'clean', 'export', 'import'] as const;
export type FaultOperation = (typeof FAULT_OPERATIONS)[number];

export interface TrialResult {
  operation: FaultOperation;
  delayMs: number;
  integrity: string;
  orphanFiles: string[];
  unfinishedFiles: string[];
  missingFiles: number[];
  lostRecords: number;
  stillRunningJobs: number;
}

export interface FaultReport {
  trials: TrialResult[];
  finalDownloadComplete: boolean;
  survived: number;
  recordsLost: number;
}

async function tinyBackboneDir(): Promise<string> {
  const modelDir = tempDataDir('teddy-fault-models-');
  await writeTinyBackbone(modelDir);
  return modelDir;
}

/** As long as the faults test allows in all: these waits only have to catch a hang, never a slow machine. */
const DOWNLOAD_WAIT_MS = 600_000;

export async function runFaultTrials(trialCount: number, seed = 1): Promise<FaultReport> {
  const random = mulberry32(seed);
  const IMAGES = 400;
  const pictures = await Promise.all(Array.from({ length: IMAGES }, (_, i) => generatedJpeg(20_000 + i, 96, 72)));
  const server: ImageServer = await startImageServer(Object.fromEntries(pictures.map((d, i) => [`/${i}.jpg`, serveBytes(d, 'image/jpeg', 20)])));
  const importDir = tempDataDir('teddy-fault-import-');
  for (const cls of ['a', 'b']) mkdirSync(join(importDir, cls));
  for (let i = 0; i < 60; i++) writeFileSync(join(importDir, i % 2 ? 'a' : 'b', `${i}.jpg`), await generatedJpeg(90_000 + i, 96, 72));
  const env = { TEDDY_MODEL_DIR: await tinyBackboneDir(), TEDDY_BACKBONE: TINY_BACKBONE, TEDDY_DOWNLOAD_CONCURRENCY: '4' };
  const dataDir = tempDataDir('teddy-faults-');
  let nextUrl = 0;
  const trials: TrialResult[] = [];
  let daemon: DaemonProcess = await startDaemonProcess(dataDir, env);
  try {
    // A starting dataset with images, so that every operation has something to work on.
    let client = await daemon.client();
    await client.request('dataset.create', { name: 'd' });
    const seedUrls = Array.from({ length: 40 }, () => nextUrl++).map((i) => ({ url: server.url(`/${i}.jpg`), className: i % 2 ? 'a' : 'b' }));
    await client.request('urls.add', { dataset: 'd', items: seedUrls });
    const first = await client.request('job.download', { dataset: 'd' });
    await waitForJob(client, first.job.id, DOWNLOAD_WAIT_MS);
    client.close();

    for (let t = 0; t < trialCount; t++) {
      const operation = FAULT_OPERATIONS[t % FAULT_OPERATIONS.length]!;
      const delayMs = Math.round(random() * 700);
      client = await daemon.client();
      const before = await client.request('images.list', { dataset: 'd', status: 'ok', limit: 1000 });
      const okBefore = new Map(before.images.map((i) => [i.id, i.file]));
      const send = async (): Promise<void> => {
        switch (operation) {
          case 'download': {
            const items = Array.from({ length: 30 }, () => nextUrl++)
              .filter((i) => i < IMAGES)
              .map((i) => ({ url: server.url(`/${i}.jpg`), className: i % 2 ? 'a' : 'b' }));
            if (items.length) await client.request('urls.add', { dataset: 'd', items });
            await client.request('job.download', { dataset: 'd' });
            break;
          }
          case 'verify':
            await client.request('job.verify', { dataset: 'd' });
            break;
          case 'train':
            await client.request('train.start', { dataset: 'd', options: { stage1Epochs: 3, stage2: 'on', stage2Epochs: 1, lrFindIterations: 10, batchSize: 8, augmentDraws: 1 } });
            break;
          case 'clean': {
            const ids = before.images.slice(0, 6).map((i) => i.id);
            if (ids.length < 6) break;
            void client.request('images.relabel', { dataset: 'd', ids: ids.slice(0, 2), className: 'b' }).catch(() => {});
            void client.request('images.review', { dataset: 'd', ids: ids.slice(2, 4) }).catch(() => {});
            void client.request('images.trash', { dataset: 'd', ids: ids.slice(4, 6) }).catch(() => {});
            void client.request('images.undo', { dataset: 'd' }).catch(() => {});
            break;
          }
          case 'export':
            await client.request('job.export', { dataset: 'd', dir: join(tempDataDir('teddy-fault-export-'), 'out') });
            break;
          case 'import':
            await client.request('job.import', { dataset: 'd', dir: importDir });
            break;
        }
      };
      await send().catch(() => {});
      await new Promise((r) => setTimeout(r, delayMs));
      await daemon.kill();

      const integrity = integrityOf(dataDir);
      daemon = await startDaemonProcess(dataDir, env);
      client = await daemon.client();
      const after = await client.request('images.list', { dataset: 'd', limit: 1000 });
      const afterById = new Map(after.images.map((i) => [i.id, i]));
      const lostRecords = [...okBefore.keys()].filter((id) => !afterById.has(id)).length;
      const missingFiles = after.images.filter((i) => (i.status === 'ok' || i.status === 'trashed') && i.file && !existsSync(join(dataDir, i.file))).map((i) => i.id);
      const referenced = new Set(after.images.map((i) => i.file).filter((f): f is string => f !== null));
      const orphanFiles = filesUnder(join(dataDir, 'images'), dataDir).filter((f) => !referenced.has(f));
      const unfinishedFiles = [
        ...filesUnder(join(dataDir, 'tmp'), dataDir),
        ...filesUnder(join(dataDir, 'models'), dataDir).filter((f) => /\.(tmp-|saving-|exporting-)/.test(f)),
        ...filesUnder(join(dataDir, 'cache'), dataDir).filter((f) => /\.tmp-/.test(f)),
      ];
      const { jobs } = await client.request('job.list', {});
      const stillRunningJobs = jobs.filter((j) => j.state === 'running' || j.state === 'queued').length;
      client.close();
      trials.push({ operation, delayMs, integrity, orphanFiles, unfinishedFiles, missingFiles, lostRecords, stillRunningJobs });
    }

    // Whatever the kills interrupted, a download now finishes the job.
    client = await daemon.client();
    const last = await client.request('job.download', { dataset: 'd' });
    const { state } = await waitForJob(client, last.job.id, DOWNLOAD_WAIT_MS);
    const stats = await client.request('dataset.stats', { dataset: 'd' });
    client.close();
    const survived = trials.filter(
      (t) => t.integrity === 'ok' && !t.orphanFiles.length && !t.unfinishedFiles.length && !t.missingFiles.length && !t.lostRecords && !t.stillRunningJobs,
    ).length;
    return {
      trials,
      finalDownloadComplete: state === 'done' && !stats.byStatus.pending,
      survived,
      recordsLost: trials.reduce((n, t) => n + t.lostRecords + t.missingFiles.length, 0),
    };
  } finally {
    await daemon.stop();
    await server.close();
  }
}
