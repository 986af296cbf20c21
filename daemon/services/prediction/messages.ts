/** Messages between the prediction service and its worker thread. */
export interface PredictRequest {
  id: number;
  /** A stage folder (trained here) or an export folder (imported). */
  modelPath: string;
  modelKind: 'stage' | 'export';
  images: Uint8Array[];
}

export type ImageOutcome = { probabilities: number[] } | { error: string };

export type PredictReply =
  | { id: number; ok: true; classes: string[]; outcomes: ImageOutcome[]; forwardMs: number; runtime: PredictionRuntime }
  | { id: number; ok: false; error: string };

/** Which runtime scored a batch: onnxruntime when the model has (or gets) a model.onnx and the runtime loads. */
export type PredictionRuntime = 'onnxruntime' | 'tfjs';
