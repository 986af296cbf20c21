import { describe, expect, it } from 'vitest';
import { BurstGate } from './burst.ts';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function harness(options: { maxBatch: number; windowMs: number }) {
  let waiting = 0;
  const cuts: number[] = [];
  const gate = new BurstGate(() => waiting, () => {
    cuts.push(waiting);
    waiting = 0;
  }, options);
  return {
    cuts,
    arrive(n = 1) {
      waiting += n;
      gate.arrived();
    },
  };
}

describe('BurstGate', () => {
  it('makes one batch of a burst that arrives over several turns of the event loop', async () => {
    const h = harness({ maxBatch: 16, windowMs: 1000 });
    h.arrive(6);
    await nextTurn();
    h.arrive(5);
    await nextTurn();
    h.arrive(5);
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(h.cuts).toEqual([16]);
  });

  it('cuts a lone request after one quiet turn', async () => {
    const h = harness({ maxBatch: 16, windowMs: 1000 });
    h.arrive();
    for (let i = 0; i < 3; i++) await nextTurn();
    expect(h.cuts).toEqual([1]);
  });

  it('cuts as soon as a batch is full, without waiting for the burst to end', async () => {
    const h = harness({ maxBatch: 4, windowMs: 1000 });
    h.arrive(2);
    await nextTurn();
    h.arrive(3);
    await nextTurn();
    expect(h.cuts).toEqual([5]);
  });

  it('cuts a steady trickle when the window closes instead of waiting for it to stop', async () => {
    const h = harness({ maxBatch: 1000, windowMs: 5 });
    const until = performance.now() + 40;
    while (performance.now() < until) {
      h.arrive();
      await nextTurn();
    }
    for (let i = 0; i < 3; i++) await nextTurn();
    expect(h.cuts.length).toBeGreaterThanOrEqual(4);
    expect(h.cuts.reduce((a, b) => a + b, 0)).toBeGreaterThan(h.cuts.length);
  });
});
