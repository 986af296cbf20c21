import { describe, it, expect } from 'vitest';
import { diagnose, formatEpochTable, type BatchRecord, type EpochRow } from './recorder.ts';

function rows(data: Array<[number, number, number]>): EpochRow[] {
  return data.map(([trainLoss, validLoss, errorRate], epoch) => ({ epoch, trainLoss, validLoss, errorRate, accuracy: 1 - errorRate, seconds: 10 }));
}
function batches(losses: number[]): BatchRecord[] {
  return losses.map((loss, iteration) => ({ iteration, epoch: 0, loss, smoothedLoss: loss, lr: 1e-3, momentum: 0.9 }));
}

describe('diagnosis of the four failure modes', () => {
  it('LR too high: the validation loss explodes', () => {
    const d = diagnose({ epochs: rows([[5, 1e9, 0.77], [8, 3e8, 0.7]]), batches: batches([1, 3, 10]), maxLr: 0.5, classCount: 3 });
    expect(d[0]!.kind).toBe('lr-too-high');
    expect(d[0]!.message).toMatch(/too high/);
  });
  it('LR too low: the loss barely moves and the error rate stays high', () => {
    const d = diagnose({ epochs: rows([[1.1, 1.0, 0.5], [1.08, 1.0, 0.48]]), batches: batches([1.1, 1.1, 1.09, 1.08, 1.08]), maxLr: 1e-6, classCount: 3 });
    expect(d[0]!.kind).toBe('lr-too-low');
    expect(d[0]!.message).toMatch(/train.*above the validation loss/);
  });
  it('too many epochs: the error rate rises again', () => {
    const d = diagnose({ epochs: rows([[0.5, 0.2, 0.05], [0.2, 0.15, 0.02], [0.1, 0.2, 0.05], [0.05, 0.25, 0.06]]), batches: batches([1, 0.5, 0.2, 0.05]), maxLr: 3e-3, classCount: 3 });
    expect(d[0]!.kind).toBe('too-many-epochs');
  });
  it('too few epochs: still improving, train loss above valid loss', () => {
    const d = diagnose({ epochs: rows([[0.9, 0.6, 0.2], [0.6, 0.4, 0.1]]), batches: batches([1.2, 0.9, 0.6, 0.5]), maxLr: 3e-3, classCount: 3 });
    expect(d[0]!.kind).toBe('too-few-epochs');
  });
  it('healthy otherwise', () => {
    const d = diagnose({ epochs: rows([[0.5, 0.1, 0.02], [0.1, 0.09, 0.02]]), batches: batches([1, 0.3, 0.1, 0.1]), maxLr: 3e-3, classCount: 3 });
    expect(d[0]!.kind).toBe('ok');
  });
});

describe('epoch table', () => {
  it('prints fastai columns', () => {
    const table = formatEpochTable(rows([[0.512345, 0.1, 0.027027]]));
    expect(table.split('\n')[0]).toBe('epoch  train_loss  valid_loss  error_rate  time');
    expect(table).toContain('0.5123');
    expect(table).toContain('0.027027');
    expect(table).toContain('00:10');
  });
});
