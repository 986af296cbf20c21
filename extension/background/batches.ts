/** Sends collected URLs to the daemon in protocol-sized batches. */
import { MAX_URLS_PER_ADD, type RequestParams, type RequestResult } from '../../shared/protocol.ts';
import type { AddSummary, CollectedItem } from '../messages.ts';

export type AddUrls = (params: RequestParams<'urls.add'>) => Promise<RequestResult<'urls.add'>>;

/** Drops repeats within the list (the daemon ignores repeats across lists) and cuts it into ≤ MAX_URLS_PER_ADD pieces. */
export function toBatches(items: CollectedItem[], size = MAX_URLS_PER_ADD): CollectedItem[][] {
  const seen = new Set<string>();
  const unique = items.filter((item) => !seen.has(item.url) && seen.add(item.url));
  const batches: CollectedItem[][] = [];
  for (let i = 0; i < unique.length; i += size) batches.push(unique.slice(i, i + size));
  return batches;
}

export async function addInBatches(add: AddUrls, dataset: string, className: string, items: CollectedItem[]): Promise<AddSummary> {
  const summary: AddSummary = { added: 0, duplicates: items.length, rejected: 0 };
  for (const batch of toBatches(items)) {
    const result = await add({ dataset, items: batch.map((item) => ({ ...item, className })) });
    summary.added += result.added;
    summary.rejected += result.rejected.length;
  }
  // Everything neither added nor rejected was already known: a repeat in the list or in the dataset.
  summary.duplicates = items.length - summary.added - summary.rejected;
  return summary;
}
