import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { getBackendStatus, initBackend, parseBackendChoice } from './backend.ts';

describe('backend selection', () => {
  it('TEDDY_BACKEND forces a backend and the status says so', async () => {
    const before = process.env.TEDDY_BACKEND;
    process.env.TEDDY_BACKEND = 'cpu';
    try {
      const status = await initBackend();
      expect(status.backend).toBe('cpu');
      expect(status.reason).toMatch(/forced by TEDDY_BACKEND/);
      // The pure-JS backend has every gradient kernel.
      expect(status.canTrainBody).toBe(true);
      expect(getBackendStatus()).toEqual(status);
      expect(tf.getBackend()).toBe('cpu');
    } finally {
      if (before === undefined) delete process.env.TEDDY_BACKEND;
      else process.env.TEDDY_BACKEND = before;
    }
  });

  it('a forced native backend that is not installed fails with the reason', async () => {
    await expect(initBackend({ force: 'node' })).rejects.toThrow(/tfjs-node is not installed/);
  });

  it('reads TEDDY_BACKEND values and rejects unknown ones', () => {
    expect(parseBackendChoice(undefined)).toBeNull();
    expect(parseBackendChoice('WASM')).toBe('wasm');
    expect(parseBackendChoice('tfjs-node-gpu')).toBe('gpu');
    expect(parseBackendChoice('tensorflow')).toBe('node');
    expect(() => parseBackendChoice('tpu')).toThrow(/TEDDY_BACKEND=tpu/);
  });
});
