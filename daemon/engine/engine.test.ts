import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendCanTrainBody, initBackend } from './backend.ts';
import { Learner, type DatasetItem } from './learner.ts';
import { formatEpochTable } from './recorder.ts';
import { loadStage, saveStage, StagePredictor } from './stages.ts';
import { runLessonSchedule } from './lesson.ts';
import { makeShapesDataset, tinyBackbone } from './test-fixtures.ts';

let dir = '';
let items: DatasetItem[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'teddy-engine-'));
  items = await makeShapesDataset(join(dir, 'images'), 24, 40);
  await initBackend({ force: 'wasm' });
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function learner(extra: Partial<ConstructorParameters<typeof Learner>[0]> = {}): Learner {
  return new Learner({ backbone: tinyBackbone(), items, batchSize: 8, seed: 42, featureCacheDir: join(dir, 'features'), ...extra });
}

describe('backend', () => {
  it('runs on wasm and says whether the body can be trained', async () => {
    const status = await initBackend();
    expect(status.backend).toBe('wasm');
    expect(status.reason).toMatch(/wasm/);
    expect(status.canTrainBody).toBe(backendCanTrainBody('wasm'));
    expect(tf.getBackend()).toBe('wasm');
  });
});

describe('learner on generated shapes (wasm, frozen body)', () => {
  it('fit_one_cycle makes the loss fall and the error rate end well below chance', async () => {
    const l = learner();
    const events: string[] = [];
    const fit = await l.fitOneCycle(4, 1e-2, { onEvent: (e) => events.push(e.type) });
    expect(fit.rows).toHaveLength(4);
    // The recorded LRs follow the one-cycle shape: max/25 at the start, max at 30%, ~0 at the end.
    const lrs = fit.batches.map((b) => b.lr);
    expect(lrs[0]).toBeCloseTo(1e-2 / 25, 10);
    expect(Math.max(...lrs)).toBeCloseTo(1e-2, 10);
    expect(lrs.indexOf(Math.max(...lrs))).toBe(Math.round(lrs.length * 0.3));
    expect(lrs.at(-1)!).toBeLessThan(1e-2 / 100);
    expect(fit.batches[0]!.momentum).toBeCloseTo(0.95, 10);
    const first = fit.batches.slice(0, 3).reduce((s, b) => s + b.loss, 0) / 3;
    const last = fit.batches.slice(-3).reduce((s, b) => s + b.loss, 0) / 3;
    expect(last).toBeLessThan(first);
    expect(fit.rows[3]!.validLoss).toBeLessThan(fit.rows[0]!.validLoss + 1e-9);
    expect(fit.rows[3]!.errorRate).toBeLessThan(0.2);
    expect(events).toContain('batch');
    expect(events).toContain('epoch');
    expect(events).toContain('features');
    expect(events.at(-1)).toBe('diagnosis');
    expect(formatEpochTable(fit.rows).split('\n')).toHaveLength(5);
    // Body activations were cached: 3 draws of the training images plus the validation set.
    const shards = await readdir(join(dir, 'features'));
    expect(shards.length).toBeGreaterThan(0);
    const bodyImages = l.bodyStats.images;
    const tensors = tf.memory().numTensors;
    await l.fitOneCycle(1, 1e-2);
    expect(l.bodyStats.images).toBe(bodyImages);
    // No tensor leaks per epoch (optimizer slots already exist).
    expect(tf.memory().numTensors).toBe(tensors);
    l.dispose();
  });

  it('lr_find returns a curve, a suggestion inside the sweep, and restores the weights', async () => {
    const l = learner();
    const probe = items.filter((i) => i.split === 'valid').slice(0, 4).map((i) => i.file);
    const before = await l.predictFiles(probe);
    const tensors = tf.memory().numTensors;
    const found = await l.lrFind({ iterations: 60 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(found.lrs.length).toBeGreaterThan(20);
    expect(found.lrs[0]).toBeCloseTo(1e-7, 12);
    expect(found.smoothedLosses).toHaveLength(found.lrs.length);
    expect(found.suggestedLr).toBeGreaterThanOrEqual(found.lrs[0]!);
    expect(found.suggestedLr).toBeLessThanOrEqual(found.lrs.at(-1)!);
    const after = await l.predictFiles(probe);
    expect(after).toEqual(before);
    l.dispose();
  });

  it('save then load gives identical predictions, in a learner and in a bare predictor', async () => {
    const a = learner();
    await a.fitOneCycle(2, 1e-2);
    const files = items.filter((i) => i.split === 'valid').map((i) => i.file);
    const expected = await a.predictFiles(files);
    const stagePath = await saveStage(a, join(dir, 'stages'), 'stage-1');
    const b = learner({ seed: 3 });
    expect(await b.predictFiles(files)).not.toEqual(expected);
    await loadStage(b, join(dir, 'stages'), 'stage-1');
    expect(await b.predictFiles(files)).toEqual(expected);
    const predictor = await StagePredictor.load(stagePath);
    const bare = await predictor.predictFiles(files);
    bare.forEach((p, i) => {
      expect(p.label).toBe(expected[i]!.label);
      for (const c of predictor.classes) expect(p.probabilities[c]).toBeCloseTo(expected[i]!.probabilities[c]!, 5);
    });
    predictor.dispose();
    a.dispose();
    b.dispose();
  });

  it('LR 0.5 is diagnosed as too high and LR 1e-6 as too low', async () => {
    const high = learner();
    const fitHigh = await high.fitOneCycle(3, 0.5);
    expect(fitHigh.diagnoses.map((d) => d.kind)).toContain('lr-too-high');
    high.dispose();
    const low = learner();
    const fitLow = await low.fitOneCycle(3, 1e-6);
    expect(fitLow.diagnoses.map((d) => d.kind)).toContain('lr-too-low');
    expect(fitLow.diagnoses[0]!.message).toMatch(/too low/);
    low.dispose();
  });

  it('cancels a running fit with an AbortSignal', async () => {
    const l = learner();
    const controller = new AbortController();
    let batches = 0;
    const run = l.fitOneCycle(4, 1e-2, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'batch' && ++batches === 3) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(batches).toBe(3);
    l.dispose();
  });

  it('runs the lesson schedule and skips stage 2 when the body cannot be trained', async () => {
    const l = learner();
    const phases: string[] = [];
    const res = await runLessonSchedule(l, {
      stageDir: join(dir, 'lesson'),
      canTrainBody: false,
      stage1Epochs: 2,
      onEvent: (e) => {
        if (e.type === 'phase') phases.push(e.phase);
      },
    });
    expect(res.stage1.rows).toHaveLength(2);
    expect(res.stage2).toBeNull();
    expect(res.stage2Skipped).toMatch(/cannot train the body/);
    expect(phases).toEqual(['stage-1', 'save', 'stage-2']);
    l.dispose();
  });

  it('unfreeze trains the body with discriminative LRs, and the lesson schedule runs stage 2', async (ctx) => {
    // Needs the wasm gradient kernels from ./kernels (registered by initBackend).
    if (!backendCanTrainBody('wasm')) ctx.skip();
    const l = learner();
    await l.fitOneCycle(1, 1e-2);
    const lower = l.groups[0]!.layers[0]!.getWeights()[0]!.dataSync().slice();
    const bodyImages = l.bodyStats.images;
    l.unfreeze();
    const fit = await l.fitOneCycle(1, [1e-4, 1e-3]);
    expect(fit.groupLrs[0]).toBeCloseTo(1e-4, 12);
    expect(fit.groupLrs[2]).toBeCloseTo(1e-3, 12);
    expect(l.bodyTuned).toBe(true);
    expect(Array.from(l.groups[0]!.layers[0]!.getWeights()[0]!.dataSync())).not.toEqual(Array.from(lower));
    // Validation after a body update goes through the new body, not the stale cache.
    expect(l.bodyStats.images).toBeGreaterThan(bodyImages);
    l.dispose();

    const m = learner();
    const res = await runLessonSchedule(m, { stageDir: join(dir, 'lesson2'), canTrainBody: true, stage1Epochs: 1, stage2Epochs: 1, lrFindIterations: 20 });
    expect(res.lrFind!.lrs.length).toBeGreaterThan(5);
    expect(res.stage2Lrs![1]).toBeCloseTo(res.stage2Lrs![0] * 10, 12);
    expect(res.stage2!.rows).toHaveLength(1);
    expect(res.stage2Path).toMatch(/stage-2$/);
    m.dispose();
  });
});

describe('event stream', () => {
  it('iterates the events of a run and resolves its result', async () => {
    const { withEventStream } = await import('./events.ts');
    const l = learner();
    const stream = withEventStream((onEvent) => l.fitOneCycle(1, 1e-2, { onEvent }));
    const types: string[] = [];
    for await (const e of stream.events) types.push(e.type);
    const fit = await stream.result;
    expect(fit.rows).toHaveLength(1);
    expect(types.filter((t) => t === 'epoch')).toHaveLength(1);
    expect(types.at(-1)).toBe('diagnosis');
    l.dispose();
  });
});

describe('body worker pool', () => {
  it('computes the same activations as the main thread, in parallel', async () => {
    const { BodyWorkerPool } = await import('./body-pool.ts');
    const backbone = tinyBackbone();
    const pool = await BodyWorkerPool.start(backbone.full, backbone.spec.cutLayer, 2);
    try {
      const files = items.slice(0, 20).map((i) => i.file);
      const inThread = new Learner({ backbone, items, seed: 42 });
      const inWorkers = new Learner({ backbone, items, seed: 42, bodyPool: pool, bodyBatchSize: 4 });
      const a = await inThread.predictFiles(files);
      const b = await inWorkers.predictFiles(files);
      expect(inWorkers.bodyStats.images).toBe(20);
      b.forEach((p, i) => {
        for (const c of inThread.classes) expect(p.probabilities[c]).toBeCloseTo(a[i]!.probabilities[c]!, 5);
      });
      inThread.dispose();
      inWorkers.dispose();
    } finally {
      await pool.close();
    }
  });
});
