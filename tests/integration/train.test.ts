import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TeddyClient } from '../../shared/client.ts';
import type { Event, Job, TrainUpdate } from '../../shared/protocol.ts';
import { buildConfig } from '../../daemon/config.ts';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.ts';
import { registerBackbone } from '../../daemon/engine/backbones.ts';
import { makeShapesDataset, tinySpec } from '../../daemon/engine/test-fixtures.ts';
import { connectClient, tempDataDir } from '../helpers/daemonProcess.ts';
import { generatedJpeg } from '../helpers/images.ts';
import { serveBytes, startImageServer } from '../helpers/imageServer.ts';
import { loadExportedWithPlainTfjs, predictWithPlainTfjs } from '../helpers/plainTfjs.ts';
import { TINY_BACKBONE, writeTinyBackbone } from '../helpers/tinyBackbone.ts';

let daemon: RunningDaemon;
let client: TeddyClient;
const updates = new Map<number, TrainUpdate[]>();

const ended = new Map<number, Job>();
const modelsReady: Extract<Event, { kind: 'model.ready' }>[] = [];

/** A job can end before its start request is answered: the listener records every end. */
async function finished(jobId: number): Promise<Job> {
  while (!ended.has(jobId)) await new Promise((r) => setTimeout(r, 20));
  return ended.get(jobId)!;
}

beforeAll(async () => {
  // A tiny backbone stands in for the ImageNet one, so this runs without ../shared or a network.
  registerBackbone(tinySpec(TINY_BACKBONE));
  const modelDir = tempDataDir('teddy-models-');
  await writeTinyBackbone(modelDir);
  const shapes = tempDataDir('teddy-shapes-');
  await makeShapesDataset(shapes, 24, 40);

  const config = buildConfig({ dataDir: tempDataDir(), port: 0, allowPrivate: true });
  config.engine = { backboneId: TINY_BACKBONE, modelDir };
  // The daemon's minimum side is meant for web photos; these test shapes are 40 px.
  config.images.minSide = 16;
  daemon = await startDaemon(config);
  client = await connectClient(daemon.port, daemon.token);
  client.onEvent((e) => {
    if (e.kind === 'train.update') updates.set(e.jobId, [...(updates.get(e.jobId) ?? []), e.update]);
    if (e.kind === 'job.finished') ended.set(e.job.id, e.job);
    if (e.kind === 'model.ready') modelsReady.push(e);
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
    // Sent before the job's end, which the first test waited for.
    expect(modelsReady).toContainEqual({ kind: 'model.ready', dataset: 'shapes', modelId: model.id });
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

  it('interprets the model: the confusion matrix sums to the validation count and matches the predictions', async () => {
    const { job } = await client.request('interpret.run', { dataset: 'shapes' });
    const end = await finished(job.id);
    expect(end.state, end.error ?? '').toBe('done');
    const view = await client.request('interpret.get', { dataset: 'shapes', split: 'valid', limit: 500 });
    const validCount = (await client.request('images.list', { dataset: 'shapes', status: 'ok', split: 'valid', limit: 1000 })).total;
    expect(view.count).toBe(validCount);
    expect(view.confusion.flat().reduce((a, b) => a + b, 0)).toBe(validCount);
    for (const [a, actual] of view.classes.entries()) {
      for (const [p, predicted] of view.classes.entries()) {
        expect(view.confusion[a]![p]).toBe(view.topLosses.filter((i) => i.actual === actual && i.predicted === predicted).length);
      }
    }
    for (const pair of view.mostConfused) expect(pair.actual).not.toBe(pair.predicted);
  });

  it('lists top losses in descending loss order with both probabilities', async () => {
    const view = await client.request('interpret.get', { dataset: 'shapes', split: 'train', limit: 20 });
    expect(view.topLosses.length).toBe(20);
    for (let i = 1; i < view.topLosses.length; i++) expect(view.topLosses[i - 1]!.loss).toBeGreaterThanOrEqual(view.topLosses[i]!.loss);
    for (const item of view.topLosses) {
      expect(item.loss).toBeCloseTo(-Math.log(item.probActual), 5);
      expect(item.probPredicted).toBeGreaterThanOrEqual(item.probActual);
    }
    const page2 = await client.request('interpret.get', { dataset: 'shapes', split: 'train', limit: 20, offset: 20 });
    expect(page2.topLosses[0]!.loss).toBeLessThanOrEqual(view.topLosses.at(-1)!.loss);
    const { thumbnails } = await client.request('images.thumbnails', { dataset: 'shapes', ids: [view.topLosses[0]!.imageId], size: 64 });
    expect(thumbnails[0]!.dataUrl).toMatch(/^data:image\/jpeg;base64,/);
  });

  it('applies delete, relabel and review at once, undoes the last, and the next training uses the cleaned set', async () => {
    const countsOf = async (): Promise<Record<string, number>> =>
      Object.fromEntries((await client.request('dataset.stats', { dataset: 'shapes' })).classes.map((c) => [c.name, c.train + c.valid]));
    const countsBefore = await countsOf();
    const before = await client.request('interpret.get', { dataset: 'shapes', split: 'train', limit: 3 });
    const [worst, second, third] = before.topLosses;
    await client.request('images.trash', { dataset: 'shapes', ids: [worst!.imageId] });
    const other = before.classes.find((c) => c !== second!.actual)!;
    await client.request('images.relabel', { dataset: 'shapes', ids: [second!.imageId], className: other });
    await client.request('images.review', { dataset: 'shapes', ids: [third!.imageId] });

    const after = await client.request('interpret.get', { dataset: 'shapes', split: 'train', limit: 500, hideReviewed: true });
    expect(after.topLosses.find((i) => i.imageId === worst!.imageId)).toBeUndefined();
    expect(after.topLosses.find((i) => i.imageId === third!.imageId)).toBeUndefined();
    // A relabel counts as reviewed: it leaves the queue of what is still to look at.
    expect(after.topLosses.find((i) => i.imageId === second!.imageId)).toBeUndefined();
    const all = await client.request('interpret.get', { dataset: 'shapes', split: 'train', limit: 500 });
    expect(all.topLosses.find((i) => i.imageId === second!.imageId)).toMatchObject({ actual: other, reviewed: true });

    // The review was the last change: undo brings the image back into the queue.
    expect((await client.request('images.undo', { dataset: 'shapes' })).undone).toEqual({ action: 'review', images: 1 });
    const undone = await client.request('interpret.get', { dataset: 'shapes', split: 'train', limit: 500, hideReviewed: true });
    expect(undone.topLosses.find((i) => i.imageId === third!.imageId)).toBeDefined();

    const { job } = await client.request('train.start', { dataset: 'shapes', options: { stage1Epochs: 1, stage2: 'off', batchSize: 8 } });
    expect((await finished(job.id)).state).toBe('done');
    const { report } = await client.request('train.report', { dataset: 'shapes' });
    expect(report!.trainImages + report!.validImages).toBe(71);
    const expected = { ...countsBefore };
    expected[worst!.actual]!--;
    expected[second!.actual]!--;
    expected[other]!++;
    expect(await countsOf()).toEqual(expected);

    expect((await client.request('images.restore', { dataset: 'shapes', ids: [worst!.imageId] })).restored).toBe(1);
    expect((await client.request('dataset.stats', { dataset: 'shapes' })).byStatus.ok).toBe(72);
  });

  it('reports a near-duplicate that straddles the train and validation sets', async () => {
    const dir = tempDataDir('teddy-dups-');
    mkdirSync(join(dir, 'bears'));
    const original = await generatedJpeg(4242, 240, 180);
    writeFileSync(join(dir, 'bears', 'original.jpg'), original);
    // Resized and recompressed copies: different bytes, the same picture.
    for (let quality = 95; quality > 40; quality -= 5) {
      writeFileSync(join(dir, 'bears', `copy-${quality}.jpg`), await sharp(original).resize(200, 150).jpeg({ quality }).toBuffer());
    }
    writeFileSync(join(dir, 'bears', 'unrelated.jpg'), await generatedJpeg(7, 240, 180));
    await client.request('dataset.create', { name: 'dups' });
    const { job } = await client.request('job.import', { dataset: 'dups', dir });
    await finished(job.id);
    const { groups } = await client.request('dataset.duplicates', { dataset: 'dups' });
    expect(groups).toHaveLength(1);
    expect(groups[0]!.images.length).toBeGreaterThanOrEqual(10);
    expect(groups[0]!.images.map((i) => i.url).some((u) => u.endsWith('unrelated.jpg'))).toBe(false);
    expect(groups[0]!.crossesSplit).toBe(true);
    expect(groups[0]!.sameClass).toBe(true);
  });

  it('predicts image bytes and URLs with the trained model, an unusable one failing alone', async () => {
    const { images } = await client.request('images.list', { dataset: 'shapes', status: 'ok', split: 'valid', limit: 6 });
    const bytes = images.map((i) => readFileSync(join(daemon.dataDir, i.file!)));
    const one = await client.request('predict.image', { dataset: 'shapes', data: bytes[0]!.toString('base64'), topK: 2 });
    expect(one.top).toHaveLength(2);
    expect(one.top[0]!.probability).toBeGreaterThanOrEqual(one.top[1]!.probability);
    await expect(client.request('predict.image', { dataset: 'shapes', data: Buffer.from('<html>').toString('base64') })).rejects.toMatchObject({
      code: 'invalid_params',
    });

    const server = await startImageServer({
      ...Object.fromEntries(bytes.map((b, i) => [`/${i}.jpg`, serveBytes(b)])),
      '/page.html': serveBytes(Buffer.from('<html></html>'), 'text/html'),
    });
    try {
      const urls = [...bytes.map((_, i) => server.url(`/${i}.jpg`)), server.url('/page.html'), server.url('/missing.jpg')];
      const result = await client.request('predict.urls', { dataset: 'shapes', urls, topK: 1 });
      expect(result.predictions.slice(0, 6).every((p) => p.top?.length === 1 && p.error === null)).toBe(true);
      expect(result.predictions[0]!.top![0]!.className).toBe(one.top[0]!.className);
      expect(result.predictions[6]!.error).toMatch(/not a usable image/);
      expect(result.predictions[7]!.error).toMatch(/http_status/);
      // The same URLs again come from the cache: the server sees no second request.
      await client.request('predict.urls', { dataset: 'shapes', urls: urls.slice(0, 6) });
      expect(server.hits.get('/0.jpg')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('exports a model that plain tfjs loads and that agrees with the daemon, and imports it back', async () => {
    const parent = tempDataDir('teddy-export-');
    writeFileSync(join(parent, 'notes.txt'), 'mine');
    await expect(client.request('model.export', { dataset: 'shapes', dir: parent })).rejects.toMatchObject({ code: 'invalid_params' });
    expect(readFileSync(join(parent, 'notes.txt'), 'utf8')).toBe('mine');
    const out = join(parent, 'shapes-model');
    const exported = await client.request('model.export', { dataset: 'shapes', dir: out });
    expect(exported.files).toEqual(['model.json', 'model.onnx', 'teddy-model.json', 'weights.bin']);
    const metadata = JSON.parse(readFileSync(join(out, 'teddy-model.json'), 'utf8'));
    expect(metadata.classes).toEqual(['disc', 'square', 'stripes']);

    const { images } = await client.request('images.list', { dataset: 'shapes', status: 'ok', limit: 24 });
    const model = await loadExportedWithPlainTfjs(out);
    // The daemon's decoder and the plain sharp pipeline differ by a level here and there, so
    // probabilities agree closely, and the top class wherever it is not a near-tie.
    let clearCases = 0;
    for (const image of images) {
      const bytes = readFileSync(join(daemon.dataDir, image.file!));
      const { top } = await client.request('predict.image', { dataset: 'shapes', data: bytes.toString('base64'), topK: 3 });
      const plain = await predictWithPlainTfjs(model, metadata, bytes);
      const fromDaemon = metadata.classes.map((c: string) => top.find((t) => t.className === c)!.probability);
      for (let k = 0; k < plain.length; k++) expect(Math.abs(fromDaemon[k]! - plain[k]!), image.file!).toBeLessThan(0.02);
      const [first, second] = [...plain].sort((a, b) => b - a);
      if (first! - second! > 0.02) {
        clearCases++;
        expect(top[0]!.className, image.file!).toBe(metadata.classes[plain.indexOf(first!)]);
      }
    }
    expect(clearCases).toBeGreaterThanOrEqual(images.length / 4);

    await client.request('dataset.create', { name: 'imported' });
    const { model: record } = await client.request('model.import', { dataset: 'imported', dir: out });
    expect(record).toMatchObject({ jobId: null, classes: ['disc', 'square', 'stripes'] });
    expect(modelsReady.at(-1)).toEqual({ kind: 'model.ready', dataset: 'imported', modelId: record.id });
    const bytes = readFileSync(join(daemon.dataDir, images[0]!.file!)).toString('base64');
    const viaImport = await client.request('predict.image', { dataset: 'imported', data: bytes });
    const viaTrained = await client.request('predict.image', { dataset: 'shapes', data: bytes });
    expect(viaImport.top[0]!.className).toBe(viaTrained.top[0]!.className);
    expect(viaImport.top[0]!.probability).toBeCloseTo(viaTrained.top[0]!.probability, 4);
  });

  it('answers a partial report while a training runs, then cancels it and keeps serving', async () => {
    const modelsBefore = modelsReady.length;
    const { job } = await client.request('train.start', { dataset: 'shapes', options: { stage1Epochs: 50, stage2: 'off' } });
    const end = finished(job.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(ended.has(job.id)).toBe(false);

    const deadline = Date.now() + 60_000;
    let partial = await client.request('train.report', { dataset: 'shapes' });
    while (!(partial.report?.stages[0]?.rows.length ?? 0) && Date.now() < deadline && !ended.has(job.id)) {
      await new Promise((r) => setTimeout(r, 100));
      partial = await client.request('train.report', { dataset: 'shapes' });
    }
    expect(partial.running).toBe(true);
    expect(partial.report).toMatchObject({ jobId: job.id, dataset: 'shapes', final: null });
    expect(partial.report!.stages[0]!.rows.length).toBeGreaterThanOrEqual(1);
    expect(partial.report!.stages[0]!.losses.length).toBeGreaterThan(0);
    expect((await client.request('train.report', { dataset: 'shapes', jobId: job.id })).running).toBe(true);

    await client.request('job.cancel', { jobId: job.id });
    expect((await end).state).toBe('cancelled');
    // The cancelled run leaves no partial report and no model behind.
    const after = await client.request('train.report', { dataset: 'shapes' });
    expect(after.running).toBeUndefined();
    expect(after.report?.jobId).not.toBe(job.id);
    expect(modelsReady.length).toBe(modelsBefore);
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
