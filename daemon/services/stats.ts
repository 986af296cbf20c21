/** Dataset statistics: counts per class and split, per status and failure reason, near-duplicates. */
import type { DatasetStats } from '../../shared/protocol.ts';
import { hashHalves, popcount32 } from '../images/pipeline.ts';
import type { Store, StoredImage } from '../store/store.ts';

/** Difference hashes this close are the same picture resized or recompressed. */
export const NEAR_DUPLICATE_DISTANCE = 5;

/** Groups of image ids whose perceptual hashes are within the distance of each other. */
export function nearDuplicateGroups(items: { id: number; phash: string }[], maxDistance = NEAR_DUPLICATE_DISTANCE): number[][] {
  // Split once, not per pair: the comparison loop is O(n²).
  const halves = items.map((i) => hashHalves(i.phash));
  const hi = halves.map((h) => h[0]);
  const lo = halves.map((h) => h[1]);
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  for (let a = 0; a < items.length; a++) {
    for (let b = a + 1; b < items.length; b++) {
      if (popcount32(hi[a]! ^ hi[b]!) + popcount32(lo[a]! ^ lo[b]!) <= maxDistance) parent[find(a)] = find(b);
    }
  }
  const groups = new Map<number, number[]>();
  items.forEach((item, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), item.id]);
  });
  return [...groups.values()].filter((g) => g.length > 1);
}

/** The dataset's ok images that have a perceptual hash: what near-duplicate groups are made of. */
export function usableHashedImages(store: Store, datasetId: number): (StoredImage & { phash: string })[] {
  return store.listImages(datasetId, { status: ['ok'] }).images.filter((i): i is typeof i & { phash: string } => i.phash !== null);
}

/**
 * Near-duplicate groups cost O(n²) comparisons and stats are asked for often (the popup
 * refreshes its counts during downloads): they are recomputed only when the usable images change.
 */
const groupCache = new WeakMap<Store, Map<number, { signature: string; groups: number[][] }>>();

/** `usable`: the dataset's ok images with a hash, when the caller has listed them already. */
export function cachedDuplicateGroups(store: Store, datasetId: number, usable?: { id: number; phash: string }[]): number[][] {
  let perStore = groupCache.get(store);
  if (!perStore) groupCache.set(store, (perStore = new Map()));
  const signature = store.usableImagesSignature(datasetId);
  const hit = perStore.get(datasetId);
  if (hit?.signature === signature) return hit.groups;
  const groups = nearDuplicateGroups(usable ?? usableHashedImages(store, datasetId));
  perStore.set(datasetId, { signature, groups });
  return groups;
}

export function datasetStats(store: Store, datasetName: string): DatasetStats {
  const dataset = store.getDataset(datasetName);
  return {
    dataset: dataset.name,
    classes: store.classCounts(dataset.id),
    byStatus: store.countsByStatus(dataset.id),
    byFailure: store.countsByFailure(dataset.id),
    duplicateGroups: cachedDuplicateGroups(store, dataset.id),
  };
}
