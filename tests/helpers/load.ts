/**
 * Load: several clients adding many URLs at once, then a burst of overlay predictions
 * while a training job runs. Used by the load test and the reliability benchmark.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TeddyClient } from '../../shared/client.ts';
import { startDaemonProcess, tempDataDir, waitForJob } from './daemonProcess.ts';
import { generatedJpeg } from './images.ts';
import { serveBytes, startImageServer } from './imageServer.ts';
import { peakResidentMb } from './processMemory.ts';
import { TINY_BACKBONE, writeTinyBackbone } from './tinyBackbone.ts';

export interface LoadReport {
  clients: number;
  urlsAdded: number;
  urlsStored: number;
  addUrlsPerSecond: number;
  predictions: number;
  predictionsAnswered: number;
  predictionErrors: number;
  predictionsPerSecond: number;
  busyRefusals: number;
  trainingState: string;
  /** The daemon process's peak resident memory over the whole run. */
  peakRssMb: number;
}

/** Phase 2 needs these jobs to have worked; a failure stops the run with its reason. */
async function succeeded(client: TeddyClient, jobId: number, timeoutMs: number): Promise<void> {
  const job = await waitForJob(client, jobId, timeoutMs);
  if (job.state !== 'done') throw new Error(`job ${jobId} (${job.kind}) ended ${job.state}: ${job.error ?? 'no error given'}`);
}

export async function runLoad(options: { clients: number; urlsPerClient: number; predictions: number }): Promise<LoadReport> {
  const modelDir = tempDataDir('teddy-load-models-');
  await writeTinyBackbone(modelDir);
  const pictures = await Promise.all(Array.from({ length: 40 }, (_, i) => generatedJpeg(7000 + i, 96, 72)));
  // The added URLs are only stored, never fetched: an empty server gives them an address.
  const server = await startImageServer({});
  const route = (i: number): string => `/p/${i}.jpg`;
  const daemon = await startDaemonProcess(tempDataDir('teddy-load-'), { TEDDY_MODEL_DIR: modelDir, TEDDY_BACKBONE: TINY_BACKBONE });
  const images = tempDataDir('teddy-load-images-');
  for (const cls of ['a', 'b']) mkdirSync(join(images, cls));
  pictures.forEach((p, i) => writeFileSync(join(images, i % 2 ? 'a' : 'b', `${i}.jpg`), p));
  const predictServer = await startImageServer(Object.fromEntries(pictures.map((p, i) => [route(i), serveBytes(p)])));
  try {
    const clients = await Promise.all(Array.from({ length: options.clients }, () => daemon.client()));
    await clients[0]!.request('dataset.create', { name: 'load' });

    // Phase 1: every client adds its URLs, in protocol-sized batches, all at once.
    let started = performance.now();
    await Promise.all(
      clients.map(async (client, c) => {
        for (let start = 0; start < options.urlsPerClient; start += 2000) {
          const items = Array.from({ length: Math.min(2000, options.urlsPerClient - start) }, (_, k) => ({
            url: server.url(`/client-${c}/${start + k}.jpg`),
            className: k % 2 ? 'a' : 'b',
          }));
          await client.request('urls.add', { dataset: 'load', items });
        }
      }),
    );
    const addSeconds = (performance.now() - started) / 1000;
    const stats = await clients[0]!.request('dataset.stats', { dataset: 'load' });
    const urlsStored = Object.values(stats.byStatus).reduce((a, b) => a + b, 0);

    // Phase 2: a model to predict with, then a burst of overlay predictions during a training.
    await clients[0]!.request('dataset.create', { name: 'shapes' });
    const imported = await clients[0]!.request('job.import', { dataset: 'shapes', dir: images });
    await succeeded(clients[0]!, imported.job.id, 60_000);
    const first = await clients[0]!.request('train.start', { dataset: 'shapes', options: { stage1Epochs: 2, stage2: 'off', batchSize: 8, augmentDraws: 1 } });
    await succeeded(clients[0]!, first.job.id, 120_000);
    const training = await clients[0]!.request('train.start', { dataset: 'shapes', options: { stage1Epochs: 8, stage2: 'on', stage2Epochs: 2, batchSize: 8, augmentDraws: 2 } });

    let answered = 0;
    let errors = 0;
    let busy = 0;
    started = performance.now();
    const batches: string[][] = [];
    for (let i = 0; i < options.predictions; i += 16) {
      batches.push(Array.from({ length: Math.min(16, options.predictions - i) }, (_, k) => predictServer.url(`${route((i + k) % pictures.length)}?n=${i + k}`)));
    }
    await Promise.all(
      batches.map(async (urls, b) => {
        const client = clients[b % clients.length]!;
        try {
          const result = await client.request('predict.urls', { dataset: 'shapes', urls });
          for (const p of result.predictions) {
            if (p.top) answered++;
            else errors++;
          }
        } catch (err) {
          if ((err as { code?: string }).code === 'busy') busy += urls.length;
          else errors += urls.length;
        }
      }),
    );
    const predictSeconds = (performance.now() - started) / 1000;
    const end = await waitForJob(clients[0]!, training.job.id, 300_000);
    const peak = peakResidentMb(daemon.child.pid!);
    for (const client of clients) client.close();
    return {
      clients: options.clients,
      urlsAdded: options.clients * options.urlsPerClient,
      urlsStored,
      addUrlsPerSecond: Math.round((options.clients * options.urlsPerClient) / addSeconds),
      predictions: options.predictions,
      predictionsAnswered: answered,
      predictionErrors: errors,
      predictionsPerSecond: Math.round(answered / predictSeconds),
      busyRefusals: busy,
      trainingState: end.state,
      peakRssMb: peak,
    };
  } finally {
    await daemon.stop();
    await server.close();
    await predictServer.close();
  }
}
