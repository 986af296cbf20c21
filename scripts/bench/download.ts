/**
 * Download + verify throughput: 500 generated images (mixed sizes up to 2000 px)
 * served from a local HTTP server to a real daemon process.
 * Last line: {"bench":"download","images":N,"images_per_s":X,"peak_rss_mb":Y}
 */
import sharp from 'sharp';
import { removeTempDirs, startDaemonProcess, tempDataDir, waitForJob } from '../../tests/helpers/daemonProcess.ts';
import { serveBytes, startImageServer } from '../../tests/helpers/imageServer.ts';
import { peakResidentMb } from '../../tests/helpers/processMemory.ts';
import { numberArg } from './util.ts';

async function makeImage(seed: number): Promise<Buffer> {
  const side = 200 + ((seed * 7919) % 1801);
  const width = seed % 2 ? side : Math.round(side * 0.75);
  const height = seed % 2 ? Math.round(side * 0.75) : side;
  const tile = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: seed % 256, g: (seed * 3) % 256, b: (seed * 7) % 256 } } })
    .png()
    .toBuffer();
  // A busy picture rather than a flat one, so that decoding costs what a photo costs.
  return sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .composite([{ input: tile, tile: true, blend: 'overlay' }])
    .jpeg({ quality: 85 })
    .toBuffer();
}

export async function main(args: string[]): Promise<void> {
  const count = numberArg(args, 'images', 500);
  console.error(`generating ${count} images…`);
  const images: Buffer[] = [];
  for (let i = 0; i < count; i++) images.push(await makeImage(i + 1));
  const server = await startImageServer(Object.fromEntries(images.map((d, i) => [`/${i}.jpg`, serveBytes(d)])));
  const daemon = await startDaemonProcess(tempDataDir('teddy-bench-'));
  const client = await daemon.client();
  try {
    await client.request('dataset.create', { name: 'bench' });
    for (let i = 0; i < count; i += 1000) {
      const items = images.slice(i, i + 1000).map((_, j) => ({ url: server.url(`/${i + j}.jpg`), className: (i + j) % 2 ? 'a' : 'b' }));
      await client.request('urls.add', { dataset: 'bench', items });
    }
    const started = performance.now();
    const { job } = await client.request('job.download', { dataset: 'bench' });
    const done = await waitForJob(client, job.id, 600_000);
    const seconds = (performance.now() - started) / 1000;
    const ok = done.progress.ok;
    const rss = peakResidentMb(daemon.child.pid!);
    console.error(`download: ${done.state}, ${ok}/${count} ok in ${seconds.toFixed(1)} s`);
    console.log(JSON.stringify({ bench: 'download', images: ok, images_per_s: Number((ok / seconds).toFixed(1)), peak_rss_mb: rss }));
  } finally {
    client.close();
    await daemon.stop();
    await server.close();
    removeTempDirs();
  }
}
