import { describe, expect, it } from 'vitest';
import { linearTicks, logTicks } from './charts.tsx';
import { applyUpdate, formatLr, lossCurves, resumeLive, startLive } from './trainState.ts';

const row = (epoch: number) => ({ epoch, trainLoss: 1, validLoss: 0.5 - epoch * 0.1, errorRate: 0.2, accuracy: 0.8, seconds: 1 });

describe('live training model', () => {
  it('folds streamed updates into stages, replacing repeats instead of duplicating them', () => {
    let m = startLive(7);
    m = applyUpdate(m, { type: 'batch', stage: 'stage-1', iteration: 0, totalIterations: 4, loss: 2, lr: 1e-3 });
    m = applyUpdate(m, { type: 'batch', stage: 'stage-1', iteration: 1, totalIterations: 4, loss: 1.5, lr: 2e-3 });
    m = applyUpdate(m, { type: 'epoch', stage: 'stage-1', row: row(0), totalEpochs: 2 });
    m = applyUpdate(m, { type: 'epoch', stage: 'stage-1', row: row(0), totalEpochs: 2 });
    m = applyUpdate(m, { type: 'batch', stage: 'stage-2', iteration: 0, totalIterations: 2, loss: 0.4, lr: 1e-4 });
    m = applyUpdate(m, { type: 'diagnosis', stage: 'stage-1', diagnoses: [{ kind: 'ok', message: 'fine' }] });
    expect(m.stages.map((s) => [s.name, s.rows.length, s.losses.length, s.diagnoses.length])).toEqual([
      ['stage-1', 1, 2, 1],
      ['stage-2', 0, 1, 0],
    ]);
  });

  it('collects LR finder points as they come', () => {
    let m = startLive(1);
    m = applyUpdate(m, { type: 'lr-find', iteration: 0, totalIterations: 3, lr: 1e-6, loss: 1 });
    m = applyUpdate(m, { type: 'lr-find', iteration: 1, totalIterations: 3, lr: 1e-4, loss: 0.8 });
    expect(m.lrFind).toMatchObject({ lrs: [1e-6, 1e-4], losses: [1, 0.8], suggestedLr: null });
  });

  it('resumes from a partial report and keeps following the updates that come after it', () => {
    const partial = {
      jobId: 9,
      dataset: 'bears',
      createdAt: '2026-01-01T00:00:00Z',
      backend: 'cpu',
      backbone: 'tiny',
      classes: ['black', 'grizzly'],
      trainImages: 10,
      validImages: 2,
      stages: [{ name: 'stage-1', epochs: 4, maxLr: 3e-3, rows: [row(0)], losses: [0, 1, 2].map((i) => ({ iteration: i, loss: 1, lr: 1e-3 })), diagnoses: [], seconds: 1 }],
      lrFind: null,
      stage2Skipped: null,
      final: null,
    };
    let m = applyUpdate(startLive(9), { type: 'phase', phase: 'stage-1', message: 'fitting' });
    m = resumeLive(partial, m);
    expect(m).toMatchObject({ jobId: 9, live: true, phase: 'fitting', final: null, summary: { classes: ['black', 'grizzly'] } });
    m = applyUpdate(m, { type: 'batch', stage: 'stage-1', iteration: 3, totalIterations: 8, loss: 0.9, lr: 1e-3 });
    m = applyUpdate(m, { type: 'epoch', stage: 'stage-1', row: row(1), totalEpochs: 4 });
    expect(m.stages.map((s) => [s.name, s.rows.length, s.losses.length, s.totalIterations])).toEqual([['stage-1', 2, 4, 8]]);
  });

  it('puts both stages on one iteration axis with valid losses at epoch ends', () => {
    const curves = lossCurves([
      { name: 'stage-1', rows: [row(0), row(1)], losses: [0, 1, 2, 3].map((i) => ({ iteration: i, loss: 1, lr: 1 })), diagnoses: [], totalEpochs: 2, totalIterations: 4 },
      { name: 'stage-2', rows: [row(0)], losses: [0, 1].map((i) => ({ iteration: i, loss: 1, lr: 1 })), diagnoses: [], totalEpochs: 1, totalIterations: 2 },
    ]);
    expect(curves.train.map(([x]) => x)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(curves.valid.map(([x]) => x)).toEqual([2, 4, 6]);
    expect(curves.dividers).toEqual([{ x: 4, label: 'stage-2' }]);
  });
});

describe('chart helpers', () => {
  it('makes round ticks', () => {
    expect(linearTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(logTicks(3e-7, 20)).toEqual([1e-6, 1e-4, 1e-2, 1]);
    expect(formatLr([3e-5, 3e-4])).toBe('slice(3e-5, 3e-4)');
  });
});
