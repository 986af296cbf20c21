/**
 * What happened during training, kept as plain numbers so it can be streamed, stored and
 * diagnosed: per-batch loss/LR/momentum and per-epoch metrics, plus the lesson's four ways
 * training goes wrong told in plain words.
 */

export interface BatchRecord {
  /** Iteration counted from the start of this fit. */
  iteration: number;
  epoch: number;
  loss: number;
  smoothedLoss: number;
  /** LR of the head group (the largest, with discriminative LRs). */
  lr: number;
  momentum: number;
}

export interface EpochRow {
  epoch: number;
  trainLoss: number;
  validLoss: number;
  errorRate: number;
  accuracy: number;
  seconds: number;
}

export type DiagnosisKind = 'lr-too-high' | 'lr-too-low' | 'too-few-epochs' | 'too-many-epochs' | 'ok';

export interface Diagnosis {
  kind: DiagnosisKind;
  message: string;
}

export interface FitRecord {
  batches: BatchRecord[];
  epochs: EpochRow[];
  maxLr: number;
  classCount: number;
}

/**
 * Rules (each uses only the recorder, so they also work on a stored run):
 * - LR too high: a loss became non-finite, or the validation loss exceeds 3x the loss of a
 *   uniform guess (ln K) or 5x its best value: the model has jumped out of the good region.
 * - LR too low: the smoothed training loss fell by less than 25% over the whole fit while the
 *   error rate is still far from solved (> 10%) - the model is barely moving.
 * - Too many epochs: the error rate reached its best before the last epoch and the last one is
 *   clearly worse (by more than 1.5 points and at least one more wrong image), while the
 *   training loss kept falling.
 * - Too few epochs: training loss above validation loss, and in the last epoch the validation
 *   loss still fell by more than 5% and the error rate still fell - the model has more to learn.
 */
export function diagnose(record: FitRecord): Diagnosis[] {
  const out: Diagnosis[] = [];
  const { epochs, batches } = record;
  const chance = Math.log(Math.max(2, record.classCount));
  const last = epochs[epochs.length - 1];
  const nonFinite = batches.some((b) => !Number.isFinite(b.loss)) || epochs.some((e) => !Number.isFinite(e.validLoss) || !Number.isFinite(e.trainLoss));
  const bestValid = Math.min(...epochs.map((e) => e.validLoss).filter(Number.isFinite));
  const maxValid = Math.max(...epochs.map((e) => (Number.isFinite(e.validLoss) ? e.validLoss : Number.POSITIVE_INFINITY)));
  if (nonFinite || maxValid > 3 * chance || (epochs.length > 1 && maxValid > 5 * bestValid && maxValid > chance)) {
    out.push({
      kind: 'lr-too-high',
      message:
        `The learning rate (${fmtLr(record.maxLr)}) is too high: the validation loss blew up ` +
        `(${fmtNum(maxValid)}, against ${fmtNum(chance)} for a blind guess). Run the LR finder and pick a rate ` +
        `where the loss is still falling steeply, well before it shoots up.`,
    });
    return out;
  }
  if (!last) return out;
  const smoothed = batches.map((b) => b.smoothedLoss).filter(Number.isFinite);
  if (smoothed.length >= 4) {
    const head = Math.max(...smoothed.slice(0, Math.max(1, Math.ceil(smoothed.length / 10))));
    const tail = smoothed[smoothed.length - 1] as number;
    if (tail > 0.75 * head && last.errorRate > 0.1) {
      const above = last.trainLoss > last.validLoss ? ' The training loss is still above the validation loss, a sign of a model that has barely started.' : '';
      out.push({
        kind: 'lr-too-low',
        message:
          `The learning rate (${fmtLr(record.maxLr)}) looks too low: the training loss only went from ${fmtNum(head)} to ${fmtNum(tail)} ` +
          `and the error rate is still ${fmtPct(last.errorRate)}.${above} Try a rate about 10x higher, or use the LR finder.`,
      });
      return out;
    }
  }
  if (epochs.length >= 3) {
    let bestIdx = 0;
    epochs.forEach((e, i) => {
      if (e.errorRate < (epochs[bestIdx] as EpochRow).errorRate) bestIdx = i;
    });
    const best = epochs[bestIdx] as EpochRow;
    if (bestIdx < epochs.length - 1 && last.errorRate - best.errorRate > 0.015 && last.trainLoss < best.trainLoss) {
      out.push({
        kind: 'too-many-epochs',
        message:
          `Too many epochs: the error rate was best at epoch ${best.epoch + 1} (${fmtPct(best.errorRate)}) and rose again to ` +
          `${fmtPct(last.errorRate)} while the training loss kept falling - the model is starting to memorise the training images. ` +
          `Train for ${bestIdx + 1} epochs instead.`,
      });
      return out;
    }
  }
  if (epochs.length >= 2) {
    const prev = epochs[epochs.length - 2] as EpochRow;
    if (last.trainLoss > last.validLoss && last.validLoss < 0.95 * prev.validLoss && last.errorRate < prev.errorRate) {
      out.push({
        kind: 'too-few-epochs',
        message:
          `Too few epochs: the validation loss was still falling (${fmtNum(prev.validLoss)} → ${fmtNum(last.validLoss)}) and the ` +
          `training loss (${fmtNum(last.trainLoss)}) is above it. Train for more epochs.`,
      });
      return out;
    }
  }
  out.push({ kind: 'ok', message: `Training looks healthy: error rate ${fmtPct(last.errorRate)}, validation loss ${fmtNum(last.validLoss)}.` });
  return out;
}

function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 ? x.toExponential(2) : x.toFixed(4);
}
function fmtLr(x: number): string {
  return x.toExponential(0).replace('e', 'e');
}
function fmtPct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** fastai-style epoch table (epoch, train_loss, valid_loss, error_rate, time). */
export function formatEpochTable(rows: readonly EpochRow[]): string {
  const header = ['epoch', 'train_loss', 'valid_loss', 'error_rate', 'time'];
  const cells = rows.map((r) => [
    String(r.epoch),
    fmtNum(r.trainLoss),
    fmtNum(r.validLoss),
    r.errorRate.toFixed(6),
    fmtTime(r.seconds),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

function fmtTime(seconds: number): string {
  const s = Math.round(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
