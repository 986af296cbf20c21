/**
 * The verify job (fastai's verify_images(delete=True) without the regret): every
 * stored image is decoded again; what fails goes to the trash with its reason, from
 * where it can be restored.
 */
import { checkImage } from '../images/pipeline.ts';
import type { IngestDeps } from './ingest.ts';
import type { JobContext } from './jobRunner.ts';

export async function runVerify(deps: IngestDeps, ctx: JobContext, datasetId: number): Promise<void> {
  const { images } = deps.store.listImages(datasetId, { status: ['ok'] });
  ctx.progress.total = images.length;
  ctx.report();
  for (const image of images) {
    if (ctx.signal.aborted) return;
    let outcome: { reason: 'missing_file' | NonNullable<typeof image.failureReason>; detail: string } | undefined;
    if (!image.file || !(await deps.files.exists(image.file))) {
      outcome = { reason: 'missing_file', detail: 'the image file is gone from the data directory' };
    } else {
      const checked = await checkImage(await deps.files.read(image.file), deps.images);
      if (!checked.ok) outcome = checked;
    }
    ctx.progress.done++;
    if (outcome) {
      deps.store.trashImages(datasetId, [image.id], { reason: outcome.reason, detail: outcome.detail });
      ctx.progress.failed++;
      ctx.imageFailed(image.id, image.url, outcome.reason, outcome.detail);
    } else ctx.progress.ok++;
    ctx.report();
  }
}
