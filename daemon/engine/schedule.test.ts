import { describe, it, expect } from 'vitest';
import { DEFAULT_ONE_CYCLE, SmoothedValue, annealCos, exponentialSweep, lrsForGroups, oneCycleAt, suggestLr } from './schedule.ts';

describe('one-cycle schedule', () => {
  const total = 100;
  const points = Array.from({ length: total }, (_, i) => oneCycleAt(i, total));
  const peak = Math.round(total * DEFAULT_ONE_CYCLE.pctStart);

  it('warms up from max/25 to max by cosine, then anneals to max/(25*1e4)', () => {
    expect(points[0]!.lrScale).toBeCloseTo(1 / 25, 10);
    expect(points[peak]!.lrScale).toBeCloseTo(1, 10);
    expect(oneCycleAt(total, total).lrScale).toBeCloseTo(1 / 25e4, 10);
    // Half-way through the warm-up the cosine is exactly at the midpoint.
    expect(oneCycleAt(peak / 2, total).lrScale).toBeCloseTo((1 + 1 / 25) / 2, 10);
    for (let i = 1; i <= peak; i++) expect(points[i]!.lrScale).toBeGreaterThan(points[i - 1]!.lrScale);
    for (let i = peak + 1; i < total; i++) expect(points[i]!.lrScale).toBeLessThan(points[i - 1]!.lrScale);
  });

  it('cycles momentum 0.95 → 0.85 → 0.95, opposite to the LR', () => {
    expect(points[0]!.momentum).toBeCloseTo(0.95, 10);
    expect(points[peak]!.momentum).toBeCloseTo(0.85, 10);
    expect(oneCycleAt(total, total).momentum).toBeCloseTo(0.95, 10);
    expect(Math.min(...points.map((p) => p.momentum))).toBeCloseTo(0.85, 10);
  });

  it('anneals by cosine', () => {
    expect(annealCos(1, 0, 0)).toBe(1);
    expect(annealCos(1, 0, 0.5)).toBeCloseTo(0.5, 12);
    expect(annealCos(1, 0, 1)).toBeCloseTo(0, 12);
  });
});

describe('discriminative learning rates', () => {
  it('a number gives every group that rate, a pair spreads geometrically', () => {
    expect(lrsForGroups(3e-3, 3)).toEqual([3e-3, 3e-3, 3e-3]);
    const [a, b, c] = lrsForGroups([1e-5, 1e-3], 3);
    expect(a).toBeCloseTo(1e-5, 12);
    expect(b).toBeCloseTo(1e-4, 12);
    expect(c).toBeCloseTo(1e-3, 12);
  });
});

describe('LR finder helpers', () => {
  it('sweeps exponentially from 1e-7 to 10', () => {
    const lrs = exponentialSweep(1e-7, 10, 100);
    expect(lrs).toHaveLength(100);
    expect(lrs[0]).toBeCloseTo(1e-7, 15);
    expect(lrs[99]).toBeCloseTo(10, 8);
    expect(lrs[1]! / lrs[0]!).toBeCloseTo(lrs[51]! / lrs[50]!, 8);
  });

  it('smooths with a debiased moving average', () => {
    const s = new SmoothedValue(0.98);
    expect(s.add(2)).toBeCloseTo(2, 12);
    expect(s.add(2)).toBeCloseTo(2, 12);
  });

  it('suggests the steepest descent before the minimum', () => {
    const lrs = exponentialSweep(1e-7, 10, 100);
    // A loss that falls fastest around 1e-3 (logistic in log10 LR) and blows up after 1e-1.
    const losses = lrs.map((lr) => {
      const x = Math.log10(lr);
      return 1 / (1 + Math.exp(3 * (x + 3))) + (x > -1 ? (x + 1) ** 2 * 5 : 0);
    });
    const s = suggestLr(lrs, losses);
    expect(s.rule).toBe('steepest');
    expect(Math.log10(s.suggested)).toBeCloseTo(-3, 0);
    expect(s.minLossOver10).toBeLessThan(1e-1);
  });

  it('on a flat, noisy curve suggests a tenth of the LR where the loss starts to rise', () => {
    const lrs = exponentialSweep(1e-7, 10, 30);
    // Noise around 0.05, then the loss climbs from about 1e-3.
    const losses = lrs.map((lr, i) => 0.05 + (i % 3) * 0.004 + (lr > 1e-3 ? lr * 20 : 0));
    const s = suggestLr(lrs, losses);
    expect(s.rule).toBe('edge/10');
    expect(s.suggested).toBe(s.edgeOver10);
    expect(s.suggested).toBeGreaterThan(3e-5);
    expect(s.suggested).toBeLessThan(3e-4);
  });

  it('a small fall on an already small loss is noise when minDrop says so', () => {
    const lrs = exponentialSweep(1e-7, 10, 30);
    const losses = lrs.map((lr, i) => (i < 5 ? 0.1 - i * 0.015 : 0.03) + (lr > 1e-3 ? lr * 20 : 0));
    expect(suggestLr(lrs, losses).rule).toBe('steepest');
    expect(suggestLr(lrs, losses, 0.1 * Math.log(3)).rule).toBe('edge/10');
  });
});
