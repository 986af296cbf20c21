/**
 * Registry of ImageNet-pretrained backbones (tfjs layers format, so every weight is
 * trainable) and the model cache: first use downloads the default into the data
 * directory's cache, checks every file's size and SHA-256, and reuses it afterwards.
 *
 * TEDDY_MODEL_DIR (or `modelDir`) points at already-present backbones, checked before the
 * cache and the network: either a directory that holds backbone folders named by id
 * (e.g. ../shared/models, holding mobilenet_v1_0.75_224/) or the backbone folder itself
 * (a directory with model.json). It is used in place, read-only.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Normalization } from './augment.ts';
import { MOBILENET_V1_075_224_FILES } from './backbone-files.ts';
import { loadLayersModelFromDir, modelFiles, readModelJson } from './model-io.ts';

export interface FileCheck {
  size: number;
  sha256: string;
}

export interface BackboneSpec {
  id: string;
  description: string;
  /** URL of model.json; weight shards are fetched relative to it. */
  url: string;
  /** Layer whose output is the body: the network cut before its ImageNet head. */
  cutLayer: string;
  /** First layer of the upper-body layer group; absent: the body's weighted layers are split in half. */
  upperBodyStartLayer?: string;
  inputSize: number;
  normalization: Normalization;
  /** Expected files (path relative to model.json → size and hash). Absent: only presence is checked. */
  files?: Record<string, FileCheck>;
}

export const DEFAULT_BACKBONE_ID = 'mobilenet_v1_0.75_224';

const registry = new Map<string, BackboneSpec>();

export function registerBackbone(spec: BackboneSpec): void {
  registry.set(spec.id, spec);
}

export function getBackboneSpec(id: string): BackboneSpec {
  const spec = registry.get(id);
  if (!spec) throw new Error(`unknown backbone "${id}" (known: ${[...registry.keys()].join(', ')})`);
  return spec;
}

export function listBackbones(): BackboneSpec[] {
  return [...registry.values()];
}

registerBackbone({
  id: DEFAULT_BACKBONE_ID,
  description: 'MobileNet v1, width 0.75, 224x224, ImageNet (Keras conversion published with tfjs-models)',
  url: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json',
  cutLayer: 'conv_pw_13_relu',
  upperBodyStartLayer: 'conv_dw_7',
  inputSize: 224,
  // Inputs in [-1, 1].
  normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  files: MOBILENET_V1_075_224_FILES,
});

export class BackboneUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackboneUnavailableError';
  }
}

export interface ModelCacheOptions {
  /** The data directory's model cache; backbones live in `${cacheDir}/${id}/`. */
  cacheDir: string;
  /** Already-present backbones; defaults to TEDDY_MODEL_DIR. */
  modelDir?: string | undefined;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (progress: { file: string; filesDone: number; filesTotal: number; bytes: number }) => void;
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/**
 * Problems with a backbone folder, empty when usable. `full` also hashes every file (done on
 * download and import); otherwise sizes only, which is enough to catch truncation on reuse.
 */
export async function checkBackboneDir(spec: BackboneSpec, dir: string, full: boolean): Promise<string[]> {
  const problems: string[] = [];
  if (!existsSync(join(dir, 'model.json'))) return [`${dir} has no model.json`];
  let files: string[];
  try {
    files = await modelFiles(dir);
  } catch (err) {
    return [`model.json in ${dir} is unreadable: ${(err as Error).message}`];
  }
  const expected = spec.files;
  for (const file of files) {
    const path = join(dir, file);
    const st = await stat(path).catch(() => null);
    if (!st) {
      problems.push(`missing ${file}`);
      continue;
    }
    const want = expected?.[file];
    if (!want) {
      if (expected) problems.push(`unexpected file ${file}`);
      continue;
    }
    if (st.size !== want.size) problems.push(`${file} is ${st.size} bytes, expected ${want.size}`);
    else if (full && (await sha256File(path)) !== want.sha256) problems.push(`${file} has the wrong SHA-256`);
  }
  return problems;
}

function candidateDirs(id: string, modelDir: string | undefined): string[] {
  if (!modelDir) return [];
  if (existsSync(join(modelDir, 'model.json'))) return [modelDir];
  return [join(modelDir, id)];
}

/**
 * Folders whose files were hashed in full by this process. A cached copy is hashed once per
 * process (a flipped byte keeps the size), then checked by size only.
 */
const fullyChecked = new Set<string>();

/** Forgets which folders were hashed, as a new process would (for tests). */
export function resetBackboneChecks(): void {
  fullyChecked.clear();
}

async function usable(spec: BackboneSpec, dir: string): Promise<boolean> {
  const full = !fullyChecked.has(dir);
  if ((await checkBackboneDir(spec, dir, full)).length > 0) return false;
  fullyChecked.add(dir);
  return true;
}

/** Returns a folder holding a checked copy of the backbone, downloading it on first use. */
export async function ensureBackbone(id: string, options: ModelCacheOptions): Promise<string> {
  const spec = getBackboneSpec(id);
  const modelDir = options.modelDir ?? process.env.TEDDY_MODEL_DIR;
  for (const dir of candidateDirs(id, modelDir)) {
    if (existsSync(dir) && (await usable(spec, dir))) return dir;
  }
  const cached = join(options.cacheDir, id);
  if (existsSync(cached)) {
    if (await usable(spec, cached)) return cached;
    // A damaged copy is never used: it is replaced by a fresh download.
    fullyChecked.delete(cached);
    await rm(cached, { recursive: true, force: true });
  }
  await downloadBackbone(spec, cached, options);
  return cached;
}

async function fetchBytes(url: string, options: ModelCacheOptions): Promise<Uint8Array> {
  const doFetch = options.fetch ?? fetch;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const signals = [AbortSignal.timeout(120_000), ...(options.signal ? [options.signal] : [])];
      const res = await doFetch(url, { signal: AbortSignal.any(signals) });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      lastError = err;
      if (options.signal?.aborted) break;
      if (/HTTP 4\d\d/.test((err as Error).message)) break;
    }
  }
  throw lastError;
}

async function downloadBackbone(spec: BackboneSpec, target: string, options: ModelCacheOptions): Promise<void> {
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    let modelJsonBytes: Uint8Array;
    try {
      modelJsonBytes = await fetchBytes(spec.url, options);
    } catch (err) {
      throw new BackboneUnavailableError(
        `Could not download the backbone "${spec.id}" from ${spec.url}: ${describeFetchError(err)}. ` +
          `If this machine is offline, copy the model folder (model.json and its weight files) from a machine that has it ` +
          `and run \`teddy models import DIR\`, or set TEDDY_MODEL_DIR to a folder that holds it.`,
      );
    }
    await writeFile(join(partial, 'model.json'), modelJsonBytes);
    const json = await readModelJson(partial);
    const shards = json.weightsManifest.flatMap((g) => g.paths);
    let done = 0;
    const queue = shards.slice();
    const worker = async () => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        const url = new URL(file, spec.url).href;
        let bytes: Uint8Array;
        try {
          bytes = await fetchBytes(url, options);
        } catch (err) {
          throw new BackboneUnavailableError(`Could not download ${url}: ${describeFetchError(err)}. Retry, or use \`teddy models import DIR\`.`);
        }
        await writeFile(join(partial, file), bytes);
        done += 1;
        options.onProgress?.({ file, filesDone: done, filesTotal: shards.length, bytes: bytes.byteLength });
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, shards.length) }, worker));
    const problems = await checkBackboneDir(spec, partial, true);
    if (problems.length) throw new BackboneUnavailableError(`The downloaded backbone "${spec.id}" failed its check: ${problems.join('; ')}`);
    await mkdir(options.cacheDir, { recursive: true });
    await rename(partial, target);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}

/**
 * `teddy models import DIR`: checks a backbone folder fully and copies it into the cache.
 * The id defaults to the folder's name when it is a known backbone, else the default.
 */
export async function importBackbone(sourceDir: string, options: { cacheDir: string; id?: string }): Promise<{ id: string; dir: string }> {
  const guess = basename(sourceDir.replace(/[\\/]+$/, ''));
  const id = options.id ?? (registry.has(guess) ? guess : DEFAULT_BACKBONE_ID);
  const spec = getBackboneSpec(id);
  const problems = await checkBackboneDir(spec, sourceDir, true);
  if (problems.length) throw new BackboneUnavailableError(`${sourceDir} is not a usable copy of "${id}": ${problems.join('; ')}`);
  const target = join(options.cacheDir, id);
  const partial = `${target}.import-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  for (const file of await modelFiles(sourceDir)) await copyFile(join(sourceDir, file), join(partial, file));
  await rm(target, { recursive: true, force: true });
  await rename(partial, target);
  return { id, dir: target };
}

export interface LoadedBackbone {
  spec: BackboneSpec;
  dir: string;
  /** The whole ImageNet network (shares its layers with `body`). */
  full: tf.LayersModel;
  /** Input → cutLayer output. */
  body: tf.LayersModel;
}

export async function loadBackboneFromDir(spec: BackboneSpec, dir: string): Promise<LoadedBackbone> {
  const full = await loadLayersModelFromDir(dir);
  return { spec, dir, full, body: cutBody(full, spec.cutLayer) };
}

export function cutBody(full: tf.LayersModel, cutLayer: string): tf.LayersModel {
  const layer = full.getLayer(cutLayer);
  return tf.model({ inputs: full.inputs, outputs: layer.output as tf.SymbolicTensor, name: `${full.name}_body` });
}

export async function loadBackbone(id: string, options: ModelCacheOptions): Promise<LoadedBackbone> {
  const dir = await ensureBackbone(id, options);
  return loadBackboneFromDir(getBackboneSpec(id), dir);
}
