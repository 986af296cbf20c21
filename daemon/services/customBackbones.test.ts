import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getBackboneSpec } from '../engine/index.ts';
import { registerBackboneFromDir } from './customBackbones.ts';

const dir = mkdtempSync(join(tmpdir(), 'teddy-backbones-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registerBackboneFromDir', () => {
  it('registers a backbone described by backbone.json beside its model', () => {
    mkdirSync(join(dir, 'my-net'));
    writeFileSync(
      join(dir, 'my-net', 'backbone.json'),
      JSON.stringify({ cutLayer: 'cut', inputSize: 32, normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } }),
    );
    expect(registerBackboneFromDir('my-net', dir)).toBe(true);
    expect(getBackboneSpec('my-net')).toMatchObject({ cutLayer: 'cut', inputSize: 32 });
    expect(registerBackboneFromDir('my-net', dir)).toBe(false);
  });

  it('names the field that is wrong in a bad backbone.json', () => {
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', 'backbone.json'), JSON.stringify({ cutLayer: 'x', inputSize: 'big' }));
    expect(() => registerBackboneFromDir('broken', dir)).toThrow(/inputSize/);
  });

  it('leaves the built-in backbones alone', () => {
    expect(registerBackboneFromDir('mobilenet_v1_0.75_224', dir)).toBe(false);
  });
});
