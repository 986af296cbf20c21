import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../config.ts';
import { checkImage, differenceHash, hammingDistance, processImage } from './pipeline.ts';

const settings = buildConfig({ dataDir: '/tmp/unused' }).images;

async function gradient(width: number, height: number, hue = 0): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 255) / width + hue;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = 128;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg().toBuffer();
}

describe('processImage', () => {
  it('accepts a good JPEG and stores it as JPEG with its size and hashes', async () => {
    const out = await processImage(await gradient(120, 80), settings);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.ext).toBe('jpg');
    expect([out.width, out.height]).toEqual([120, 80]);
    expect(out.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(out.phash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rejects a truncated JPEG as undecodable', async () => {
    const good = await gradient(300, 200);
    const out = await processImage(good.subarray(0, Math.floor(good.length * 0.6)), settings);
    expect(out).toMatchObject({ ok: false, reason: 'undecodable' });
  });

  it('rejects an HTML page as not an image', async () => {
    const out = await processImage(Buffer.from('<!DOCTYPE html><html><body>Access denied</body></html>'), settings);
    expect(out).toMatchObject({ ok: false, reason: 'not_an_image' });
  });

  it('rejects an image below the minimum side as too small', async () => {
    const out = await processImage(await gradient(20, 200), settings);
    expect(out).toMatchObject({ ok: false, reason: 'too_small' });
  });

  it('refuses a pixel bomb from its header, before decoding it', async () => {
    const bomb = await sharp({ create: { width: 8000, height: 8000, channels: 3, background: '#000' } }).png().toBuffer();
    const out = await processImage(bomb, { ...settings, maxInputPixels: 10_000_000 });
    expect(out).toMatchObject({ ok: false, reason: 'too_many_pixels' });
  });

  it('applies EXIF rotation so a portrait photo stays portrait', async () => {
    const landscape = await sharp(await gradient(200, 100)).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const out = await processImage(landscape, settings);
    expect(out.ok && [out.width, out.height]).toEqual([100, 200]);
  });

  it('keeps transparency as PNG and flattens opaque PNGs to JPEG', async () => {
    const transparent = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } })
      .png()
      .toBuffer();
    const opaque = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 9, g: 9, b: 9, alpha: 1 } } })
      .png()
      .toBuffer();
    expect(await processImage(transparent, settings)).toMatchObject({ ok: true, ext: 'png' });
    expect(await processImage(opaque, settings)).toMatchObject({ ok: true, ext: 'jpg' });
  });

  it('shrinks large images to the stored maximum side', async () => {
    const out = await processImage(await gradient(2000, 1000), { ...settings, maxStoredSide: 500 });
    expect(out.ok && [out.width, out.height]).toEqual([500, 250]);
  });
});

describe('differenceHash', () => {
  it('gives near hashes for a resized copy and far hashes for a different picture', async () => {
    const a = await gradient(400, 300);
    const resized = await sharp(a).resize(200, 150).jpeg({ quality: 60 }).toBuffer();
    const other = await sharp(a).flop().jpeg().toBuffer();
    expect(hammingDistance(await differenceHash(a), await differenceHash(resized))).toBeLessThanOrEqual(4);
    expect(hammingDistance(await differenceHash(a), await differenceHash(other))).toBeGreaterThan(20);
  });

  it('counts differing bits across the whole 64-bit hash, sign bits included', () => {
    expect(hammingDistance('0000000000000000', '0000000000000000')).toBe(0);
    expect(hammingDistance('0000000000000000', 'ffffffffffffffff')).toBe(64);
    expect(hammingDistance('8000000080000000', '0000000000000000')).toBe(2);
    expect(hammingDistance('0123456789abcdef', 'fedcba9876543210')).toBe(64);
    expect(hammingDistance('00000000000000ff', '0000000f00000000')).toBe(12);
  });
});

describe('checkImage', () => {
  it('passes a good stored image and fails a truncated one, as processImage does', async () => {
    const good = await gradient(300, 200);
    expect(await checkImage(good, settings)).toEqual({ ok: true });
    const truncated = good.subarray(0, Math.floor(good.length * 0.6));
    expect(await checkImage(truncated, settings)).toMatchObject({ ok: false, reason: 'undecodable' });
    expect((await processImage(truncated, settings)).ok).toBe(false);
  });
});
