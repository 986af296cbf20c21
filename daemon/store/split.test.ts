import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validationSplit } from './split.ts';

const hashes = Array.from({ length: 5000 }, (_, i) => createHash('sha256').update(`image-${i}`).digest('hex'));

describe('validationSplit', () => {
  it('holds out close to the requested share for validation', () => {
    const valid = hashes.filter((h) => validationSplit(42, h, 0.2) === 'valid').length;
    expect(valid / hashes.length).toBeGreaterThan(0.18);
    expect(valid / hashes.length).toBeLessThan(0.22);
  });

  it('keeps every image in its split when images are added or removed', () => {
    const before = new Map(hashes.slice(0, 1000).map((h) => [h, validationSplit(42, h, 0.2)]));
    // A later dataset: half removed, many added; the survivors must not move.
    for (const h of hashes.slice(500, 1000)) expect(validationSplit(42, h, 0.2)).toBe(before.get(h));
  });

  it('gives a different split for a different seed', () => {
    const a = hashes.map((h) => validationSplit(1, h, 0.2));
    const b = hashes.map((h) => validationSplit(2, h, 0.2));
    expect(a).not.toEqual(b);
  });
});
