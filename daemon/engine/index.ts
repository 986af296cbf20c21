/** Public API of the training engine. No protocol, transport or storage in here. */
export { initBackend, getBackendStatus, backendCanTrainBody, parseBackendChoice, BODY_TRAINING_KERNELS, type BackendStatus, type BackendChoice } from './backend.ts';
export {
  DEFAULT_BACKBONE_ID,
  BackboneUnavailableError,
  checkBackboneDir,
  cutBody,
  ensureBackbone,
  getBackboneSpec,
  importBackbone,
  listBackbones,
  loadBackbone,
  loadBackboneFromDir,
  registerBackbone,
  type BackboneSpec,
  type FileCheck,
  type LoadedBackbone,
  type ModelCacheOptions,
} from './backbones.ts';
export {
  Learner,
  createLearner,
  type DatasetItem,
  type EngineEvent,
  type FitOptions,
  type FitResult,
  type ItemPrediction,
  type LearnerOptions,
  type LrFindOptions,
  type LrFindResult,
  type Metrics,
  type Prediction,
  type RunOptions,
} from './learner.ts';
export { saveStage, loadStage, readStageInfo, StagePredictor, type StageInfo } from './stages.ts';
export { runLessonSchedule, type LessonOptions, type LessonResult } from './lesson.ts';
export { diagnose, formatEpochTable, type BatchRecord, type Diagnosis, type DiagnosisKind, type EpochRow } from './recorder.ts';
export { oneCycleAt, lrsForGroups, exponentialSweep, suggestLr, DEFAULT_ONE_CYCLE, type OneCycleOptions } from './schedule.ts';
export { DEFAULT_AUGMENT, type AugmentOptions, type Normalization } from './augment.ts';
export { loadLayersModelFromDir, saveLayersModelToDir, readModelArtifacts } from './model-io.ts';
export { sharpDecoder, type ImageDecoder } from './images.ts';
export { fastDecoder } from './fastDecoder.ts';
export { FeatureCache, featureKey } from './feature-cache.ts';
export { withEventStream, type EventStream } from './events.ts';
export { BodyWorkerPool } from './body-pool.ts';
