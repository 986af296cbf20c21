import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TeddyClient } from '../../shared/client.ts';
import type { Job, TrainUpdate } from '../../shared/protocol.ts';
import { buildConfig } from '../../daemon/config.ts';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.ts';
import { registerBackbone } from '../../daemon/engine/backbones.ts';
import { saveLayersModelToDir } from '../../daemon/engine/model-io.ts';
import { buildTinyNetwork, makeShapesDataset, tinySpec } from '../../daemon/engine/test-fixtures.ts';
import { connectClient, tempDataDir } from '../helpers/daemonProcess.ts';

let daemon: RunningDaemon;
let client: TeddyClient;
const updates = new Map<number, TrainUpdate[]>();

const ended = new Map<number, Job>();

/** A job can end before its start request is answered: the listener records every end. */
async function finished(jobId: number): Promise<Job> {
  while (!ended.has(jobId)) await new Promise((r) => setTimeout(r, 20));
  return ended.get(jobId)!;
}

beforeAll(async () => {
  // A tiny backbone stands in for the ImageNet one, so this runs without ../shared or a network.
  registerBackbone(tinySpec('tiny-test'));
  const modelDir = tempDataDir('teddy-models-');
  const network = buildTinyNetwork();
  await saveLayersModelToDir(network, join(modelDir, 'tiny-test'));
  network.dispose();
  const shapes = tempDataDir('teddy-shapes-');
  await makeShapesDataset(shapes, 24, 40);

  const config = buildConfig({ dataDir: tempDataDir(), port: 0 });
  config.engine = { backboneId: 'tiny-test', modelDir };
  // The daemon's minimum side is meant for web photos; these test shapes are 40 px.
  config.images.minSide = 16;
  daemon = await startDaemon(config);
  client = await connectClient(daemon.port, daemon.token);
  client.onEvent((e) => {
    if (e.kind === 'train.update') updates.set(e.jobId, [...(updates.get(e.jobId) ?? []), e.update]);
    if (e.kind === 'job.finished') ended.set(e.job.id, e.job);
  });
  await client.request('dataset.create', { name: 'shapes' });
  const { job } = await client.request('job.import', { dataset: 'shapes', dir: shapes });
  await daemon.jobs.settle(job.id);
  expect(daemon.store.getJob(job.id).progress.ok).toBe(72);
});

afterAll(async () => {
  client?.close();
  await daemon?.stop();
});

describe('training over the protocol', () => {
  let report: Awaited<ReturnType<TeddyClient['request']>> & { report: unknown };

  it('runs the lesson schedule as a job and streams its epochs', async () => {
    const { job } = await client.request('train.start', {
      dataset: 'shapes',
      options: { stage1Epochs: 4, stage1Lr: 1e-2, stage2: 'on', stage2Epochs: 1, lrFindIterations: 12, augmentDraws: 1, batchSize: 8 },
    });
    const end = await finished(job.id);
    expect(end.state, end.error ?? '').toBe('done');
    expect(end.progress).toMatchObject({ done: 5, total: 5 });
    const epochs = (updates.get(job.id) ?? []).filter((u) => u.type === 'epoch');
    expect(epochs.map((u) => u.type === 'epoch' && u.stage)).toEqual(['stage-1', 'stage-1', 'stage-1', 'stage-1', 'stage-2']);
    expect((updates.get(job.id) ?? []).some((u) => u.type === 'batch')).toBe(true);
  });

  it('keeps a report with both stages, the LR finder curve and a final error rate well below chance', async () => {
    const { report } = await client.request('train.report', { dataset: 'shapes' });
    expect(report).not.toBeNull();
    expect(report!.classes).toEqual(['disc', 'square', 'stripes']);
    expect(report!.stages.map((s) => [s.name, s.rows.length])).toEqual([
      ['stage-1', 4],
      ['stage-2', 1],
    ]);
    expect(report!.stages[0]!.losses.length).toBeGreaterThan(0);
    expect(report!.lrFind!.lrs.length).toBeGreaterThan(3);
    expect(report!.final!.errorRate).toBeLessThan(0.4);
    expect(report!.trainImages + report!.validImages).toBe(72);
  });

  it('records the trained model with its stage folder on disk', () => {
    const model = daemon.store.latestModel(daemon.store.getDataset('shapes').id)!;
    expect(model.classes).toEqual(['disc', 'square', 'stripes']);
    expect(model.path).toMatch(/stage-2$/);
    expect(existsSync(join(daemon.dataDir, model.path, 'stage.json'))).toBe(true);
  });

  it('runs the LR finder from the trained model and suggests a rate inside the sweep', async () => {
    const { job } = await client.request('train.lrFind', { dataset: 'shapes', iterations: 20 });
    const end = await finished(job.id);
    expect(end.state, end.error ?? '').toBe('done');
    const { lrFind } = await client.request('train.report', { dataset: 'shapes' });
    expect(lrFind!.unfrozen).toBe(false);
    expect(lrFind!.suggestedLr).toBeGreaterThanOrEqual(lrFind!.lrs[0]!);
    expect(lrFind!.suggestedLr).toBeLessThanOrEqual(lrFind!.lrs.at(-1)!);
  });

  it('cancels a running training and keeps serving', async () => {
    const { job } = await client.request('train.start', { dataset: 'shapes', options: { stage1Epochs: 50, stage2: 'off' } });
    const end = finished(job.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(ended.has(job.id)).toBe(false);
    await client.request('job.cancel', { jobId: job.id });
    expect((await end).state).toBe('cancelled');
    expect((await client.request('status', {})).engine?.backend).toBeTruthy();
  });

  it('refuses to train a dataset with a single class, with a clear reason', async () => {
    await client.request('dataset.create', { name: 'one' });
    const { job } = await client.request('train.start', { dataset: 'one', options: {} });
    const end = await finished(job.id);
    expect(end.state).toBe('failed');
    expect(end.error).toMatch(/at least two classes/);
  });
});
