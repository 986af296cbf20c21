/**
 * Starts the daemon: data directory, token, store (with recovery from a killed
 * predecessor), job runner and websocket server.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Event } from '../shared/protocol.ts';
import type { DaemonConfig } from './config.ts';
import { lockDataDir } from './dataDirLock.ts';
import { startServer, type RunningServer } from './server.ts';
import { initBackend } from './engine/index.ts';
import { JobRunner } from './services/jobRunner.ts';
import { createFeatureCache } from './services/training.ts';
import { PredictionService } from './services/prediction/predictionService.ts';
import { registerBackboneFromDir } from './services/customBackbones.ts';
import { removeUnfinished, removeUnrecordedTrainings } from './services/recovery.ts';
import { FileStore } from './store/files.ts';
import { Store } from './store/store.ts';
import { ensureToken } from './token.ts';

export const RUNTIME_FILE = 'daemon.json';

export interface RunningDaemon {
  port: number;
  token: string;
  dataDir: string;
  store: Store;
  jobs: JobRunner;
  predictions: PredictionService;
  recovered: { interruptedJobs: number[]; orphanFiles: number; tempFiles: number; unfinishedModelFiles: number; unrecordedTrainings: string[] };
  stop(): Promise<void>;
}

export async function startDaemon(config: DaemonConfig, log: (message: string) => void = () => {}): Promise<RunningDaemon> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(config.dataDir);
  if (registerBackboneFromDir(config.engine.backboneId, config.engine.modelDir)) log(`backbone ${config.engine.backboneId} registered from ${config.engine.modelDir}`);
  const token = ensureToken(config.dataDir);
  const store = new Store(join(config.dataDir, 'teddy.db'));
  const files = new FileStore(config.dataDir);

  // Whatever a killed daemon left half-done is settled before anything new starts.
  const interrupted = store.markInterruptedJobs();
  const swept = files.sweep(store.referencedFiles());
  const unfinished = removeUnfinished(join(config.dataDir, 'models')) + removeUnfinished(join(config.dataDir, 'cache'));
  const trainings = removeUnrecordedTrainings(config.dataDir, store.allModelPaths());
  if (unfinished || trainings.length) log(`removed ${unfinished} unfinished model/cache files and ${trainings.length} unrecorded training folders`);
  if (interrupted.length) log(`jobs interrupted by the last stop: ${interrupted.map((j) => `#${j.id} ${j.kind}`).join(', ')}`);
  if (swept.orphans.length || swept.tempFiles) log(`removed ${swept.orphans.length} unrecorded files and ${swept.tempFiles} temp files`);

  const predictions = new PredictionService(store, config.dataDir, config.download);
  let broadcast: (event: Event) => void = () => {};
  const jobs = new JobRunner(store, (event) => broadcast(event), log);
  let server: RunningServer;
  try {
    server = await startServer({
      host: config.host,
      port: config.port,
      token,
      allowedOrigins: config.allowedOrigins,
      context: {
        config,
        store,
        files,
        jobs,
        startedAt: Date.now(),
        predictions,
        training: {
          store,
          files,
          dataDir: config.dataDir,
          featureCache: createFeatureCache(config.dataDir),
          backboneId: config.engine.backboneId,
          modelDir: config.engine.modelDir,
          onModel: (dataset, modelId) => broadcast({ kind: 'model.ready', dataset, modelId }),
          liveReports: new Map(),
        },
      },
      log,
    });
  } catch (err) {
    // A port already taken, say: leave the data directory as it was found.
    store.close();
    unlock();
    throw err;
  }
  broadcast = server.broadcast;
  // The engine's backend starts in the background so that status can report it early.
  initBackend().then(
    (engine) => log(`engine: ${engine.backend} — ${engine.reason}`),
    (err: Error) => log(`engine: no backend could start: ${err.message}`),
  );

  const runtimePath = join(config.dataDir, RUNTIME_FILE);
  writeFileSync(runtimePath, JSON.stringify({ pid: process.pid, port: server.port, host: config.host }) + '\n', { mode: 0o600 });

  let stopped = false;
  return {
    port: server.port,
    token,
    dataDir: config.dataDir,
    store,
    jobs,
    predictions,
    recovered: {
      interruptedJobs: interrupted.map((j) => j.id),
      orphanFiles: swept.orphans.length,
      tempFiles: swept.tempFiles,
      unfinishedModelFiles: unfinished,
      unrecordedTrainings: trainings,
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await jobs.stopAll();
      await server.close();
      await predictions.close();
      store.close();
      rmSync(runtimePath, { force: true });
      unlock();
    },
  };
}
