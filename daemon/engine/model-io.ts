/**
 * Layers-model storage on the local file system: model.json plus weight shards, the format
 * tfjs uses over HTTP. @tensorflow/tfjs has no file:// handler without tfjs-node, so this
 * module reads and writes the files itself and hands tfjs in-memory artifacts.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const WEIGHTS_FILE = 'weights.bin';

interface ModelJson {
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: Record<string, unknown>;
}

export async function readModelJson(dir: string): Promise<ModelJson> {
  return JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
}

/** Every file a model directory needs: model.json and the shards its manifest names. */
export async function modelFiles(dir: string): Promise<string[]> {
  const json = await readModelJson(dir);
  return ['model.json', ...json.weightsManifest.flatMap((g) => g.paths)];
}

export async function readModelArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const json = await readModelJson(dir);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const path of group.paths) buffers.push(await readFile(join(dir, path)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const artifacts: tf.io.ModelArtifacts = { modelTopology: json.modelTopology, weightSpecs, weightData };
  if (json.format) artifacts.format = json.format;
  if (json.userDefinedMetadata) artifacts.userDefinedMetadata = json.userDefinedMetadata as NonNullable<tf.io.ModelArtifacts["userDefinedMetadata"]>;
  return artifacts;
}

export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(await readModelArtifacts(dir)));
}

/** A model's artifacts as `model.save` hands them over, its weights in one buffer. */
export async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts & { weightData: ArrayBuffer }> {
  let captured: (tf.io.ModelArtifacts & { weightData: ArrayBuffer }) | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      const bytes = weightData == null ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(Array.isArray(weightData) ? weightData : [weightData]);
      captured = { ...artifacts, weightData: bytes };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
    }),
  );
  if (!captured) throw new Error('could not serialise the model');
  return captured;
}

/** Writes model.json + weights.bin into `dir` (created), replacing what was there atomically per file. */
export async function saveLayersModelToDir(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const artifacts = await modelArtifacts(model);
  const json: ModelJson = {
    modelTopology: artifacts.modelTopology as object,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'teddy',
    convertedBy: artifacts.convertedBy ?? null,
  };
  await writeAtomic(join(dir, WEIGHTS_FILE), new Uint8Array(artifacts.weightData));
  await writeAtomic(join(dir, 'model.json'), JSON.stringify(json));
}

export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
