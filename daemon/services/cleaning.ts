/** What the review screens need besides the store's own changes: thumbnails and near-duplicates. */
import sharp from 'sharp';
import type { DuplicateGroup } from '../../shared/protocol.ts';
import type { FileStore } from '../store/files.ts';
import type { Store } from '../store/store.ts';
import { cachedDuplicateGroups, usableHashedImages } from './stats.ts';

/** Small JPEG data URLs: the extension shows them without another route to the daemon. */
export async function thumbnails(store: Store, files: FileStore, datasetId: number, ids: number[], size: number): Promise<{ id: number; dataUrl: string | null }[]> {
  return Promise.all(
    ids.map(async (id) => {
      const image = store.getImage(id);
      if (!image || image.datasetId !== datasetId || !image.file) return { id, dataUrl: null };
      try {
        const data = await sharp(await files.read(image.file)).resize(size, size, { fit: 'inside' }).jpeg({ quality: 75 }).toBuffer();
        return { id, dataUrl: `data:image/jpeg;base64,${data.toString('base64')}` };
      } catch {
        return { id, dataUrl: null };
      }
    }),
  );
}

/** Near-duplicate groups, with whether they straddle the train/validation split. */
export function duplicateGroups(store: Store, datasetId: number): DuplicateGroup[] {
  const images = usableHashedImages(store, datasetId);
  const byId = new Map(images.map((i) => [i.id, i]));
  return cachedDuplicateGroups(store, datasetId, images)
    .map((ids) => ids.map((id) => byId.get(id)).filter((i) => i !== undefined))
    .filter((group) => group.length > 1)
    .map((group) => ({
      images: group.map((i) => ({ id: i.id, split: i.split, className: i.className, url: i.url })),
      crossesSplit: new Set(group.map((i) => i.split)).size > 1,
      sameClass: new Set(group.map((i) => i.className)).size === 1,
    }))
    .sort((a, b) => Number(b.crossesSplit) - Number(a.crossesSplit));
}
