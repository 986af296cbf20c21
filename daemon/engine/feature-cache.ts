/**
 * Cache of the frozen body's (pooled) activations per image and augmentation draw, in
 * memory and optionally on disk, so LR finds and refits after cleaning skip the body.
 * Keys are built by the caller from image content hash, body identity, size and draw.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from './model-io.ts';

export interface FeatureKeyParts {
  contentHash: string;
  /** Identity of the body weights: changes when the body is trained. */
  bodyVersion: string;
  size: number;
  /** Augmentation draw index, or 'valid' for the plain centre crop. */
  draw: number | 'valid';
  /** Seed of the draws: the same index means the same transform only for the same seed. */
  augmentSeed: number;
}

export function featureKey(parts: FeatureKeyParts): string {
  const raw = `${parts.bodyVersion}|${parts.size}|${parts.draw}|${parts.augmentSeed}|${parts.contentHash}`;
  return createHash('sha256').update(raw).digest('hex').slice(0, 40);
}

export class FeatureCache {
  private readonly memory = new Map<string, Float32Array>();
  /** Shard folders made already: one mkdir per folder rather than one per write. */
  private readonly shards = new Set<string>();

  /** `dir` absent: memory only. */
  constructor(readonly dir?: string) {}

  get memoryEntries(): number {
    return this.memory.size;
  }

  private pathOf(key: string): string {
    return join(this.dir as string, key.slice(0, 2), `${key}.f32`);
  }

  async get(key: string): Promise<Float32Array | undefined> {
    const hit = this.memory.get(key);
    if (hit) return hit;
    if (!this.dir) return undefined;
    try {
      const buf = await readFile(this.pathOf(key));
      const copy = new Float32Array(buf.byteLength / 4);
      new Uint8Array(copy.buffer).set(buf);
      this.memory.set(key, copy);
      return copy;
    } catch {
      return undefined;
    }
  }

  /** `persist` false keeps short-lived entries (a body being fine-tuned) off the disk. */
  async set(key: string, value: Float32Array, persist = true): Promise<void> {
    this.memory.set(key, value);
    if (!this.dir || !persist) return;
    const shard = join(this.dir, key.slice(0, 2));
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (!this.shards.has(shard)) {
      await mkdir(shard, { recursive: true });
      this.shards.add(shard);
    }
    try {
      await writeAtomic(this.pathOf(key), bytes);
    } catch (err) {
      // A shard folder removed behind the cache's back (say, by hand) is made again rather than failing every write to it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(shard, { recursive: true });
      await writeAtomic(this.pathOf(key), bytes);
    }
  }

  clearMemory(): void {
    this.memory.clear();
  }
}
