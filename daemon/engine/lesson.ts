/**
 * The lesson-2 schedule as one call: fit_one_cycle(4, 3e-3) with the body frozen, save
 * stage-1, and, where the backend has the body's gradient kernels, unfreeze, lr_find,
 * fit_one_cycle(2, [hi/10, hi]) with hi from the LR finder, save stage-2.
 */
import { emit, type FitResult, type Learner, type LrFindResult, type RunOptions } from './learner.ts';
import { saveStage } from './stages.ts';

export interface LessonOptions extends RunOptions {
  /** Where stage folders are written. */
  stageDir: string;
  /** From the backend status; false skips stage 2 with a reason. */
  canTrainBody: boolean;
  /** Why stage 2 is not run when the caller turns it off although the backend could run it. */
  skipStage2?: string;
  stage1Epochs?: number;
  stage1Lr?: number;
  stage2Epochs?: number;
  /** LR finder iterations after unfreezing (fastai: 100); fewer keeps a CPU run short. */
  lrFindIterations?: number;
  /** Bounds for the stage-2 top LR taken from the finder (guards against a noisy curve). */
  stage2LrBounds?: readonly [number, number];
}

export interface LessonResult {
  stage1: FitResult;
  stage1Path: string;
  lrFind: LrFindResult | null;
  stage2: FitResult | null;
  stage2Path: string | null;
  stage2Lrs: [number, number] | null;
  /** Why stage 2 did not run, when it did not. */
  stage2Skipped: string | null;
}

export async function runLessonSchedule(learner: Learner, options: LessonOptions): Promise<LessonResult> {
  const say = (phase: string, message: string) => emit(options, { type: 'phase', phase, message });
  const stage1Epochs = options.stage1Epochs ?? 4;
  const stage1Lr = options.stage1Lr ?? 3e-3;
  learner.freeze();
  say('stage-1', `fit_one_cycle(${stage1Epochs}, ${stage1Lr}) with the body frozen`);
  const stage1 = await learner.fitOneCycle(stage1Epochs, stage1Lr, options);
  const stage1Path = await saveStage(learner, options.stageDir, 'stage-1');
  say('save', `saved ${stage1Path}`);
  const result: LessonResult = { stage1, stage1Path, lrFind: null, stage2: null, stage2Path: null, stage2Lrs: null, stage2Skipped: null };
  if (!options.canTrainBody || options.skipStage2) {
    result.stage2Skipped = options.skipStage2 ?? 'this backend cannot train the body (its gradient kernels are missing); stage 1 is the result';
    say('stage-2', result.stage2Skipped);
    return result;
  }
  learner.unfreeze();
  say('lr-find', 'unfrozen; running the LR finder');
  const found = await learner.lrFind({ ...options, ...(options.lrFindIterations ? { iterations: options.lrFindIterations } : {}) });
  result.lrFind = found;
  const [minHi, maxHi] = options.stage2LrBounds ?? [1e-5, 1e-3];
  const hi = Math.min(maxHi, Math.max(minHi, found.suggestedLr));
  const lo = hi / 10;
  result.stage2Lrs = [lo, hi];
  const stage2Epochs = options.stage2Epochs ?? 2;
  say('stage-2', `fit_one_cycle(${stage2Epochs}, slice(${lo.toExponential(1)}, ${hi.toExponential(1)}))`);
  result.stage2 = await learner.fitOneCycle(stage2Epochs, [lo, hi], options);
  result.stage2Path = await saveStage(learner, options.stageDir, 'stage-2');
  say('save', `saved ${result.stage2Path}`);
  return result;
}
