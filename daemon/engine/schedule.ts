/**
 * Learning-rate and momentum schedules, as plain functions of the iteration so they can be
 * checked numerically and shown to the user before a run.
 */

/** Cosine interpolation from `start` to `end` as `pct` goes 0 → 1 (fastai's annealing_cos). */
export function annealCos(start: number, end: number, pct: number): number {
  const cosOut = Math.cos(Math.PI * pct) + 1;
  return end + ((start - end) / 2) * cosOut;
}

export interface OneCycleOptions {
  /** Fraction of the iterations spent warming up. fastai v1 default 0.3. */
  pctStart: number;
  /** Starting LR is maxLr / divFactor. */
  divFactor: number;
  /** Final LR is maxLr / (divFactor * finalDiv). */
  finalDiv: number;
  /** Momentum (Adam β1) goes moms[0] → moms[1] during warm-up, then back to moms[0]. */
  moms: [number, number];
}

export const DEFAULT_ONE_CYCLE: OneCycleOptions = { pctStart: 0.3, divFactor: 25, finalDiv: 1e4, moms: [0.95, 0.85] };

export interface SchedulePoint {
  /** Multiplier applied to each layer group's max LR (1 at the peak). */
  lrScale: number;
  momentum: number;
}

/**
 * One-cycle policy (Smith 2018, as in fastai v1): the LR rises by cosine from max/div to max
 * over the first pctStart of the iterations, then anneals by cosine to max/(div*finalDiv);
 * momentum moves the opposite way. Returned as a scale so discriminative LRs keep their ratios.
 */
export function oneCycleAt(iteration: number, totalIterations: number, options: OneCycleOptions = DEFAULT_ONE_CYCLE): SchedulePoint {
  const { pctStart, divFactor, finalDiv, moms } = options;
  const warmIters = Math.max(1, Math.round(totalIterations * pctStart));
  const coolIters = Math.max(1, totalIterations - warmIters);
  if (iteration < warmIters) {
    const pct = iteration / warmIters;
    return { lrScale: annealCos(1 / divFactor, 1, pct), momentum: annealCos(moms[0], moms[1], pct) };
  }
  const pct = Math.min(1, (iteration - warmIters) / coolIters);
  return { lrScale: annealCos(1, 1 / (divFactor * finalDiv), pct), momentum: annealCos(moms[1], moms[0], pct) };
}

/**
 * Per-group max LRs like fastai's `lr_range`: a number gives every group that LR; a pair
 * [lo, hi] spreads the groups geometrically from lo (lowest body layers) to hi (head).
 */
export function lrsForGroups(maxLr: number | readonly [number, number], groupCount: number): number[] {
  if (typeof maxLr === 'number') return Array.from({ length: groupCount }, () => maxLr);
  const [lo, hi] = maxLr;
  if (groupCount === 1) return [hi];
  const ratio = Math.pow(hi / lo, 1 / (groupCount - 1));
  return Array.from({ length: groupCount }, (_, i) => lo * Math.pow(ratio, i));
}

/** Exponential sweep used by the LR finder: lr_i = start * (end/start)^(i/(n-1)). */
export function exponentialSweep(startLr: number, endLr: number, steps: number): number[] {
  if (steps < 2) return [startLr];
  return Array.from({ length: steps }, (_, i) => startLr * Math.pow(endLr / startLr, i / (steps - 1)));
}

/** Debiased exponential moving average, the smoothing fastai's recorder shows. */
export class SmoothedValue {
  private mov = 0;
  private count = 0;
  constructor(private readonly beta = 0.98) {}
  add(value: number): number {
    this.count += 1;
    this.mov = this.beta * this.mov + (1 - this.beta) * value;
    return this.value;
  }
  get value(): number {
    return this.count === 0 ? Number.NaN : this.mov / (1 - Math.pow(this.beta, this.count));
  }
}

export interface LrSuggestion {
  /** The LR to use: `steepest` when the loss clearly falls, else `edgeOver10`. */
  suggested: number;
  /** Which rule gave `suggested`. */
  rule: 'steepest' | 'edge/10';
  /** Index into the curve of the suggested point (for plotting). */
  index: number;
  /** LR at the steepest descent of the smoothed loss against log10(LR), before the minimum. */
  steepest: number;
  /**
   * The largest LR whose smoothed loss is still within 1.5x of the minimum (where the loss
   * starts to get worse), divided by 10: the lesson's advice for an unfrozen model.
   */
  edgeOver10: number;
  /** LR of the minimum smoothed loss divided by 10 (the other rule fastai users quote). */
  minLossOver10: number;
}

/**
 * Suggestion rule. When the smoothed loss falls by at least 25% (and by at least `minDrop`,
 * so that noise on an already small loss does not count) before its minimum (a fresh head),
 * the steepest negative slope of the smoothed loss with respect to log10(LR), searched
 * up to the minimum after skipping the first points whose smoothing is still warming up.
 * Otherwise (a trained head, unfrozen: the curve is flat and its slope is noise) the LR where
 * the loss starts to get worse, divided by 10.
 */
export function suggestLr(lrs: readonly number[], smoothedLosses: readonly number[], minDrop = 0): LrSuggestion {
  const n = Math.min(lrs.length, smoothedLosses.length);
  if (n === 0) throw new Error('empty LR finder curve');
  const lr = (i: number) => lrs[i] as number;
  const loss = (i: number) => smoothedLosses[i] as number;
  let minIdx = 0;
  for (let i = 1; i < n; i++) if (loss(i) < loss(minIdx)) minIdx = i;
  const minLossOver10 = Math.max(lr(minIdx) / 10, lr(0));
  let edgeIdx = minIdx;
  for (let i = n - 1; i > minIdx; i--) {
    if (loss(i) <= 1.5 * loss(minIdx)) {
      edgeIdx = i;
      break;
    }
  }
  const edgeOver10 = Math.max(lr(edgeIdx) / 10, lr(0));
  const skip = Math.min(Math.floor(n / 10), Math.max(0, minIdx - 2));
  let best = Number.POSITIVE_INFINITY;
  let bestIdx = -1;
  for (let i = Math.max(1, skip); i <= minIdx && i < n - 1; i++) {
    const slope = (loss(i + 1) - loss(i - 1)) / (Math.log10(lr(i + 1)) - Math.log10(lr(i - 1)));
    if (Number.isFinite(slope) && slope < best) {
      best = slope;
      bestIdx = i;
    }
  }
  const steepest = bestIdx >= 0 ? lr(bestIdx) : minLossOver10;
  const start = loss(Math.max(1, skip));
  const drop = start - loss(minIdx);
  const clearDescent = bestIdx >= 0 && best < 0 && Number.isFinite(start) && start > 0 && drop / start >= 0.25 && drop >= minDrop;
  if (clearDescent) return { suggested: steepest, rule: 'steepest', index: bestIdx, steepest, edgeOver10, minLossOver10 };
  const edgeLrIdx = lrs.findIndex((x) => x >= edgeOver10);
  return { suggested: edgeOver10, rule: 'edge/10', index: Math.max(0, edgeLrIdx), steepest, edgeOver10, minLossOver10 };
}
