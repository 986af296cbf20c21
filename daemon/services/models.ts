/** Trained models leaving and entering the daemon: export folders, imported exports, backbones. */
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { ModelInfo } from '../../shared/protocol.ts';
import { EXPORT_METADATA_FILE, ExportedPredictor, exportStage, readExportMetadata } from '../engine/exported.ts';
import type { ModelRecord, Store } from '../store/store.ts';
import { DaemonError } from './errors.ts';
import { checkExportTarget } from './exportTarget.ts';

export function modelInfo(record: ModelRecord): ModelInfo {
  return {
    id: record.id,
    jobId: record.jobId,
    backbone: record.backbone,
    classes: record.classes,
    metrics: record.metrics,
    createdAt: record.createdAt,
  };
}


export async function exportModel(
  store: Store,
  dataDir: string,
  datasetId: number,
  dir: string,
  modelId?: number,
): Promise<{ dir: string; files: string[]; classes: string[] }> {
  const record = modelId !== undefined ? store.getModel(modelId) : store.latestModel(datasetId);
  if (!record || record.datasetId !== datasetId) throw new DaemonError('not_found', modelId !== undefined ? `no model ${modelId} in this dataset` : 'this dataset has no trained model yet');
  const target = await checkExportTarget(dir, dataDir, EXPORT_METADATA_FILE);
  const source = join(dataDir, record.path);
  const dataset = store.getDatasetById(datasetId);
  const counts = store.classCounts(datasetId);
  let classes: string[];
  // Only the question "is it already an export?" may fail quietly: a failed copy must be reported, not retried as a stage.
  const exported = await readExportMetadata(source).catch(() => undefined);
  if (exported) {
    // An imported model: hand it on as it is.
    await rm(target, { recursive: true, force: true });
    await cp(source, target, { recursive: true });
    classes = exported.classes;
  } else {
    const metadata = await exportStage(source, target, {
      dataset: dataset.name,
      trainImages: counts.reduce((n, c) => n + c.train, 0),
      validImages: counts.reduce((n, c) => n + c.valid, 0),
      metrics: record.metrics,
      trainingJob: record.jobId,
      modelId: record.id,
      exportedBy: 'teddy',
    });
    classes = metadata.classes;
  }
  return { dir: target, files: (await readdir(target)).sort(), classes };
}

export async function importModel(store: Store, dataDir: string, datasetId: number, dir: string): Promise<ModelRecord> {
  const source = resolve(dir);
  let metadata;
  try {
    metadata = await readExportMetadata(source);
    // Loading it is the real check: a folder that does not load is refused now, not at the first prediction.
    (await ExportedPredictor.load(source)).dispose();
  } catch (err) {
    throw new DaemonError('invalid_params', `${source} is not a usable Teddy model export (${EXPORT_METADATA_FILE} + model.json): ${(err as Error).message}`);
  }
  const target = join(dataDir, 'models', 'imported', `${Date.now()}-${process.pid}`);
  await mkdir(join(dataDir, 'models', 'imported'), { recursive: true });
  await cp(source, target, { recursive: true });
  return store.addModel({
    datasetId,
    jobId: null,
    path: relative(dataDir, target),
    backbone: metadata.backbone,
    classes: metadata.classes,
    metrics: null,
  });
}
