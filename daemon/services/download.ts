/** The download job: fetches a dataset's pending URLs concurrently, verifying each. */
import pLimit from 'p-limit';
import type { DownloadSettings } from '../config.ts';
import { fetchWithRetries } from '../net/fetcher.ts';
import { countOutcome, ingestBytes, type IngestDeps } from './ingest.ts';
import type { JobContext } from './jobRunner.ts';

export interface DownloadDeps extends IngestDeps {
  download: DownloadSettings;
}

export async function runDownload(deps: DownloadDeps, ctx: JobContext, datasetId: number, retryFailed: boolean): Promise<void> {
  const ids = deps.store.pendingImageIds(datasetId, retryFailed);
  ctx.progress.total = ids.length;
  ctx.report();
  const limit = pLimit(deps.download.concurrency);
  // An error that is not about one URL (a full disk, a broken store) stops the whole job:
  // what is not done stays pending for the next download.
  let fatal: unknown;
  await Promise.all(
    ids.map((id) =>
      limit(async () => {
        if (ctx.signal.aborted || fatal !== undefined) return;
        const image = deps.store.getImage(id);
        if (!image || (image.status !== 'pending' && image.status !== 'failed')) return;
        deps.store.noteAttempt(id);
        const fetched = await fetchWithRetries(image.url, deps.download, ctx.signal);
        // A cancelled download leaves the image pending, to be fetched by the next job.
        if (ctx.signal.aborted) return;
        if (!fetched.ok) {
          deps.store.markFailed(id, fetched.reason, fetched.detail);
          countOutcome(ctx, id, image.url, fetched);
          return;
        }
        countOutcome(ctx, id, image.url, await ingestBytes(deps, id, fetched.data));
      }).catch((err: unknown) => {
        // The tasks still queued see it and return at once (clearing the queue would leave them unsettled).
        if (fatal === undefined) fatal = err;
      }),
    ),
  );
  if (fatal !== undefined) throw fatal;
}
