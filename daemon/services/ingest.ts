/**
 * The step shared by download and import: bytes in, a verified image recorded (or a
 * failure reason recorded) out.
 */
import type { FailureReason } from '../../shared/protocol.ts';
import type { ImageSettings } from '../config.ts';
import { processImage } from '../images/pipeline.ts';
import type { FileStore } from '../store/files.ts';
import type { Store } from '../store/store.ts';
import type { JobContext } from './jobRunner.ts';

export interface IngestDeps {
  store: Store;
  files: FileStore;
  images: ImageSettings;
}

export type IngestOutcome = { ok: true } | { ok: false; reason: FailureReason; detail: string };

export async function ingestBytes(deps: IngestDeps, imageId: number, data: Buffer): Promise<IngestOutcome> {
  const processed = await processImage(data, deps.images);
  if (!processed.ok) {
    deps.store.markFailed(imageId, processed.reason, processed.detail);
    return processed;
  }
  // The file goes to disk first and is recorded second: a crash in between leaves an
  // unreferenced file, which the next start sweeps, never a record without its file.
  const file = await deps.files.put(processed.sha256, processed.ext, processed.data);
  const outcome = deps.store.acceptImage(imageId, {
    sha256: processed.sha256,
    phash: processed.phash,
    width: processed.width,
    height: processed.height,
    bytes: processed.data.length,
    file,
  });
  if (outcome.status === 'duplicate') return { ok: false, reason: 'duplicate', detail: `same picture as image ${outcome.duplicateOf}` };
  return { ok: true };
}

export function countOutcome(ctx: JobContext, imageId: number, url: string, outcome: IngestOutcome): void {
  ctx.progress.done++;
  if (outcome.ok) ctx.progress.ok++;
  else {
    ctx.progress.failed++;
    ctx.imageFailed(imageId, url, outcome.reason, outcome.detail);
  }
  ctx.report();
}
