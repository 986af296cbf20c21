import { describe, expect, it } from 'vitest';
import { Store, type AcceptedImage } from './store.ts';

const accepted = (sha: string, file = `images/${sha.slice(0, 2)}/${sha}.jpg`): AcceptedImage => ({
  sha256: sha,
  phash: '0123456789abcdef',
  width: 100,
  height: 80,
  bytes: 1234,
  file,
});
const sha = (c: string): string => c.repeat(64);

function seeded(): { store: Store; datasetId: number; ids: number[] } {
  const store = new Store(':memory:');
  const datasetId = store.createDataset('bears').dataset.id;
  store.addImages(datasetId, [
    { url: 'https://a.test/1.jpg', className: 'teddys', sourcePage: 'https://search.test/?q=teddy' },
    { url: 'https://a.test/2.jpg', className: 'teddys' },
    { url: 'https://b.test/3.jpg', className: 'grizzly' },
  ]);
  const ids = store.listImages(datasetId).images.map((i) => i.id);
  return { store, datasetId, ids };
}

describe('Store', () => {
  it('keeps each URL once per dataset, with its class and source page', () => {
    const { store, datasetId } = seeded();
    expect(store.addImages(datasetId, [{ url: 'https://a.test/1.jpg', className: 'grizzly' }])).toEqual({ added: 0, duplicates: 1 });
    const first = store.findImageByUrl(datasetId, 'https://a.test/1.jpg')!;
    expect(first).toMatchObject({ className: 'teddys', sourcePage: 'https://search.test/?q=teddy', status: 'pending' });
    expect(store.listClasses(datasetId).map((c) => c.name)).toEqual(['grizzly', 'teddys']);
  });

  it('makes the same content under a second URL a duplicate of the first', () => {
    const { store, ids } = seeded();
    expect(store.acceptImage(ids[0]!, accepted(sha('a')))).toMatchObject({ status: 'ok' });
    expect(store.acceptImage(ids[1]!, accepted(sha('a')))).toEqual({ status: 'duplicate', duplicateOf: ids[0] });
    expect(store.getImage(ids[1]!)).toMatchObject({ status: 'duplicate', failureReason: 'duplicate', file: null });
  });

  it('gives an accepted image its split from its content, whatever its URL', () => {
    const { store, ids } = seeded();
    store.acceptImage(ids[0]!, accepted(sha('b')));
    const other = new Store(':memory:');
    const otherDataset = other.createDataset('bears').dataset.id;
    other.addImages(otherDataset, [{ url: 'https://elsewhere.test/x.jpg', className: 'teddys' }]);
    const otherId = other.listImages(otherDataset).images[0]!.id;
    other.acceptImage(otherId, accepted(sha('b')));
    expect(other.getImage(otherId)!.split).toBe(store.getImage(ids[0]!)!.split);
  });

  it('trashes with a reason and restores to what the image was', () => {
    const { store, datasetId, ids } = seeded();
    store.acceptImage(ids[0]!, accepted(sha('c')));
    expect(store.trashImages(datasetId, [ids[0]!], { reason: 'undecodable', detail: 'bad' })).toBe(1);
    expect(store.getImage(ids[0]!)).toMatchObject({ status: 'trashed', failureReason: 'undecodable' });
    expect(store.referencedFiles().has(accepted(sha('c')).file)).toBe(true);
    expect(store.restoreImages(datasetId, [ids[0]!])).toBe(1);
    expect(store.getImage(ids[0]!)).toMatchObject({ status: 'ok', failureReason: null });
  });

  it('restores a trashed image as a duplicate when its picture came back meanwhile', () => {
    const { store, datasetId, ids } = seeded();
    store.acceptImage(ids[0]!, accepted(sha('d')));
    store.trashImages(datasetId, [ids[0]!]);
    store.acceptImage(ids[1]!, accepted(sha('d')));
    store.restoreImages(datasetId, [ids[0]!]);
    expect(store.getImage(ids[0]!)!.status).toBe('duplicate');
    expect(store.listImages(datasetId, { status: ['ok'] }).total).toBe(1);
  });

  it('counts every match as the total, whether or not the listing is paged', () => {
    const { store, datasetId } = seeded();
    expect(store.listImages(datasetId).total).toBe(3);
    expect(store.listImages(datasetId, { className: 'teddys' }).total).toBe(2);
    expect(store.listImages(datasetId, { limit: 1 })).toMatchObject({ total: 3, images: [expect.anything()] });
    expect(store.listImages(datasetId, { offset: 2 })).toMatchObject({ total: 3, images: [expect.anything()] });
  });

  it('restores only trashed images of the dataset, to what they were before', () => {
    const { store, datasetId, ids } = seeded();
    store.markFailed(ids[2]!, 'http_status', 'HTTP 404');
    store.trashImages(datasetId, [ids[1]!, ids[2]!]);
    const other = store.createDataset('other').dataset.id;
    expect(store.restoreImages(other, [ids[1]!])).toBe(0);
    expect(store.restoreImages(datasetId, [ids[0]!, ids[1]!, ids[2]!, 9999])).toBe(2);
    expect(store.getImage(ids[1]!)!.status).toBe('pending');
    expect(store.getImage(ids[2]!)).toMatchObject({ status: 'failed', failureReason: 'http_status' });
  });

  it('marks jobs that were running at a crash as interrupted', () => {
    const { store, datasetId } = seeded();
    const job = store.createJob(datasetId, 'download', {});
    store.updateJob(job.id, { state: 'running' });
    const done = store.createJob(datasetId, 'verify', {});
    store.updateJob(done.id, { state: 'done' });
    expect(store.markInterruptedJobs().map((j) => [j.id, j.state])).toEqual([[job.id, 'interrupted']]);
    expect(store.getJob(done.id).state).toBe('done');
  });

  it('counts per class and split', () => {
    const { store, datasetId, ids } = seeded();
    store.acceptImage(ids[0]!, accepted(sha('e')));
    store.markFailed(ids[2]!, 'http_status', 'HTTP 404');
    const counts = store.classCounts(datasetId);
    const teddys = counts.find((c) => c.name === 'teddys')!;
    expect(teddys.train + teddys.valid).toBe(1);
    expect(teddys.pending).toBe(1);
    expect(counts.find((c) => c.name === 'grizzly')!.failed).toBe(1);
    expect(store.countsByFailure(datasetId)).toEqual({ http_status: 1 });
  });
});
