import { createHash } from 'node:crypto';

/** A seeded uniform generator in [0, 1): reproducible augmentation draws and shuffles. */
export type Rng = () => number;

/** mulberry32: small, fast and good enough for augmentation parameters and shuffling. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator seeded from any string, so a draw is a pure function of (seed, image, draw index). */
export function rngFromString(key: string): Rng {
  const digest = createHash('sha256').update(key).digest();
  return mulberry32(digest.readUInt32LE(0));
}

export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Fisher–Yates on a copy. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
