/**
 * What the Train view shows, built either from a finished run's report or, while a job
 * runs, from its streamed updates. One shape for both, so the epoch table and the charts
 * fill in live and then simply get replaced by the report's authoritative numbers.
 */
import type { Diagnosis, EpochRow, LrFindCurve, TrainingReport, TrainUpdate } from '../../shared/protocol.ts';

export interface StageView {
  name: string;
  rows: EpochRow[];
  losses: { iteration: number; loss: number; lr: number }[];
  diagnoses: Diagnosis[];
  totalEpochs: number | null;
  totalIterations: number | null;
}

export interface LrFindView {
  lrs: number[];
  /** Smoothed losses: what the suggestion is based on, and what fastai plots. */
  losses: number[];
  suggestedLr: number | null;
  rule: string | null;
  unfrozen: boolean | null;
}

export interface TrainViewModel {
  jobId: number | null;
  live: boolean;
  stages: StageView[];
  lrFind: LrFindView | null;
  phase: string | null;
  features: { done: number; total: number } | null;
  final: TrainingReport['final'];
  stage2Skipped: string | null;
  summary: { backend: string; backbone: string; classes: string[]; trainImages: number; validImages: number } | null;
}

export const EMPTY: TrainViewModel = {
  jobId: null,
  live: false,
  stages: [],
  lrFind: null,
  phase: null,
  features: null,
  final: null,
  stage2Skipped: null,
  summary: null,
};

export function lrFindView(curve: LrFindCurve): LrFindView {
  return { lrs: curve.lrs, losses: curve.smoothedLosses, suggestedLr: curve.suggestedLr, rule: curve.rule, unfrozen: curve.unfrozen };
}

export function fromReport(report: TrainingReport): TrainViewModel {
  return {
    jobId: report.jobId,
    live: false,
    stages: report.stages.map((s) => ({
      name: s.name,
      rows: s.rows,
      losses: s.losses,
      diagnoses: s.diagnoses,
      totalEpochs: s.epochs,
      totalIterations: s.losses.length ? Math.max(...s.losses.map((l) => l.iteration)) + 1 : null,
    })),
    lrFind: report.lrFind ? lrFindView(report.lrFind) : null,
    phase: null,
    features: null,
    final: report.final,
    stage2Skipped: report.stage2Skipped,
    summary: {
      backend: report.backend,
      backbone: report.backbone,
      classes: report.classes,
      trainImages: report.trainImages,
      validImages: report.validImages,
    },
  };
}

/**
 * A running training's partial report, from a popup opened mid-run, joined with what the
 * live model already holds: the report has every point so far, the live model the phase
 * and whatever streamed in while the report was on its way.
 */
export function resumeLive(report: TrainingReport, live: TrainViewModel): TrainViewModel {
  const resumed = { ...fromReport(report), live: true, phase: live.phase, features: live.features, lrFind: live.lrFind };
  return { ...resumed, stages: resumed.stages.map((s) => ({ ...s, totalIterations: null })) };
}

export function startLive(jobId: number): TrainViewModel {
  return { ...EMPTY, jobId, live: true };
}

function withStage(model: TrainViewModel, name: string, change: (stage: StageView) => StageView): TrainViewModel {
  const index = model.stages.findIndex((s) => s.name === name);
  const stage = index >= 0 ? model.stages[index]! : { name, rows: [], losses: [], diagnoses: [], totalEpochs: null, totalIterations: null };
  const stages = [...model.stages];
  if (index >= 0) stages[index] = change(stage);
  else stages.push(change(stage));
  return { ...model, stages };
}

/** Folds one streamed update into the live model. Updates are throttled by the daemon, so points may be skipped. */
export function applyUpdate(model: TrainViewModel, update: TrainUpdate): TrainViewModel {
  switch (update.type) {
    case 'phase':
      return { ...model, phase: update.message || update.phase };
    case 'features':
      return { ...model, features: { done: update.done, total: update.total } };
    case 'batch':
      return withStage(model, update.stage, (s) => ({
        ...s,
        totalIterations: update.totalIterations,
        losses: [...s.losses.filter((l) => l.iteration < update.iteration), { iteration: update.iteration, loss: update.loss, lr: update.lr }],
      }));
    case 'epoch':
      return withStage(model, update.stage, (s) => ({
        ...s,
        totalEpochs: update.totalEpochs,
        rows: [...s.rows.filter((r) => r.epoch !== update.row.epoch), update.row],
      }));
    case 'lr-find': {
      const previous = model.lrFind && model.lrFind.suggestedLr === null ? model.lrFind : { lrs: [], losses: [], suggestedLr: null, rule: null, unfrozen: null };
      return { ...model, lrFind: { ...previous, lrs: [...previous.lrs, update.lr], losses: [...previous.losses, update.loss] } };
    }
    case 'diagnosis':
      return withStage(model, update.stage, (s) => ({ ...s, diagnoses: update.diagnoses }));
  }
}

/** Train loss per batch and valid loss per epoch on one x-axis of iterations across stages. */
export function lossCurves(stages: StageView[]): {
  train: [number, number][];
  valid: [number, number][];
  dividers: { x: number; label: string }[];
} {
  const train: [number, number][] = [];
  const valid: [number, number][] = [];
  const dividers: { x: number; label: string }[] = [];
  let offset = 0;
  for (const stage of stages) {
    if (offset > 0) dividers.push({ x: offset, label: stage.name });
    for (const l of stage.losses) train.push([offset + l.iteration, l.loss]);
    const iterations = stage.totalIterations ?? (stage.losses.length ? Math.max(...stage.losses.map((l) => l.iteration)) + 1 : 0);
    const epochs = stage.totalEpochs ?? stage.rows.length;
    const perEpoch = epochs > 0 ? iterations / epochs : 0;
    for (const row of stage.rows) valid.push([offset + (row.epoch + 1) * perEpoch, row.validLoss]);
    offset += iterations;
  }
  return { train, valid, dividers };
}

export function formatLr(lr: number | [number, number]): string {
  const one = (v: number): string => v.toExponential(1).replace('e+', 'e').replace('.0e', 'e');
  return Array.isArray(lr) ? `slice(${one(lr[0])}, ${one(lr[1])})` : one(lr);
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  return `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;
}
