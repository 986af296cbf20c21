import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { BackboneUnavailableError, ensureBackbone, importBackbone, loadBackbone, registerBackbone, type BackboneSpec, type FileCheck } from './backbones.ts';
import { loadLayersModelFromDir, saveLayersModelToDir } from './model-io.ts';
import { buildTinyNetwork, tinySpec } from './test-fixtures.ts';

let work = '';
let published = '';
let server: Server;
let baseUrl = '';
let requests: string[] = [];
let spec: BackboneSpec;

async function fileChecks(dir: string): Promise<Record<string, FileCheck>> {
  const out: Record<string, FileCheck> = {};
  for (const name of await readdir(dir)) {
    const bytes = await readFile(join(dir, name));
    out[name] = { size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  work = await mkdtemp(join(tmpdir(), 'teddy-backbones-'));
  published = join(work, 'published');
  await saveLayersModelToDir(buildTinyNetwork(), published);
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    readFile(join(published, (req.url ?? '/').slice(1)))
      .then((bytes) => res.writeHead(200).end(bytes))
      .catch(() => res.writeHead(404).end('not found'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  spec = { ...tinySpec('tiny-download'), url: `${baseUrl}/model.json`, files: await fileChecks(published) };
  registerBackbone(spec);
});

afterAll(async () => {
  server.close();
  await rm(work, { recursive: true, force: true });
});

describe('backbone cache', () => {
  it('downloads on first use, checks size and hash, and reuses the cache', async () => {
    const cacheDir = join(work, 'cache1');
    requests = [];
    const dir = await ensureBackbone(spec.id, { cacheDir, modelDir: join(work, 'nowhere') });
    expect(dir).toBe(join(cacheDir, spec.id));
    expect(requests).toContain('/model.json');
    expect(requests).toContain('/weights.bin');
    const count = requests.length;
    const loaded = await loadBackbone(spec.id, { cacheDir, modelDir: join(work, 'nowhere') });
    expect(requests.length).toBe(count);
    expect(loaded.body.outputs[0]!.shape).toEqual([null, 8, 8, 16]);
    const original = await loadLayersModelFromDir(published);
    const x = tf.randomUniform([1, 32, 32, 3]);
    expect(Array.from((loaded.full.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((original.predict(x) as tf.Tensor).dataSync()));
  });

  it('detects a corrupted file in the cache (same size, one byte changed) and fetches it again', async () => {
    const cacheDir = join(work, 'cache-corrupt');
    await ensureBackbone(spec.id, { cacheDir, modelDir: join(work, 'nowhere') });
    const weights = join(cacheDir, spec.id, 'weights.bin');
    const bytes = await readFile(weights);
    bytes[10] = bytes[10]! ^ 0xff;
    await writeFile(weights, bytes);
    // A later process (a restarted daemon) hashes the cache again before trusting it.
    const { resetBackboneChecks } = await import('./backbones.ts');
    resetBackboneChecks();
    requests = [];
    await ensureBackbone(spec.id, { cacheDir, modelDir: join(work, 'nowhere') });
    expect(requests).toContain('/weights.bin');
    const fixed = await readFile(weights);
    expect(createHash('sha256').update(fixed).digest('hex')).toBe(spec.files!['weights.bin']!.sha256);
  });

  it('rejects a download whose bytes do not match the registry', async () => {
    const bad: BackboneSpec = { ...spec, id: 'tiny-bad-hash', files: { ...spec.files, 'weights.bin': { ...spec.files!['weights.bin']!, sha256: '0'.repeat(64) } } };
    registerBackbone(bad);
    const cacheDir = join(work, 'cache2');
    await expect(ensureBackbone(bad.id, { cacheDir, modelDir: join(work, 'nowhere') })).rejects.toThrow(/wrong SHA-256/);
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it('offline: says so clearly and points at `teddy models import DIR`; import then works', async () => {
    const offline: BackboneSpec = { ...spec, id: 'tiny-offline', url: 'http://127.0.0.1:9/model.json' };
    registerBackbone(offline);
    const cacheDir = join(work, 'cache3');
    const err = await ensureBackbone(offline.id, { cacheDir, modelDir: join(work, 'nowhere') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackboneUnavailableError);
    expect((err as Error).message).toMatch(/teddy models import DIR/);
    const imported = await importBackbone(published, { cacheDir, id: offline.id });
    expect(imported.dir).toBe(join(cacheDir, offline.id));
    expect(await ensureBackbone(offline.id, { cacheDir, modelDir: join(work, 'nowhere') })).toBe(imported.dir);
  });

  it('import refuses a truncated copy', async () => {
    const broken = join(work, 'broken');
    await saveLayersModelToDir(buildTinyNetwork(), broken);
    const weights = await readFile(join(broken, 'weights.bin'));
    await writeFile(join(broken, 'weights.bin'), weights.subarray(0, 100));
    await expect(importBackbone(broken, { cacheDir: join(work, 'cache4'), id: spec.id })).rejects.toThrow(/bytes, expected/);
  });

  it('uses TEDDY_MODEL_DIR-style folders in place: a parent of backbone folders or the folder itself', async () => {
    requests = [];
    const parent = join(work, 'models');
    await saveLayersModelToDir(buildTinyNetwork(), join(parent, spec.id));
    expect(await ensureBackbone(spec.id, { cacheDir: join(work, 'cache5'), modelDir: parent })).toBe(join(parent, spec.id));
    expect(await ensureBackbone(spec.id, { cacheDir: join(work, 'cache5'), modelDir: join(parent, spec.id) })).toBe(join(parent, spec.id));
    expect(requests).toEqual([]);
  });
});
