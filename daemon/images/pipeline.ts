/**
 * Turns downloaded or imported bytes into a verified, normalised image: fully decoded
 * (which catches truncation), EXIF rotation applied, too-small and pixel-bomb inputs
 * refused, stored as JPEG (PNG where transparency matters). This is the only module
 * that talks to sharp for the dataset.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { FailureReason } from '../../shared/protocol.ts';
import type { ImageSettings } from '../config.ts';

export type ProcessedImage = {
  ok: true;
  data: Buffer;
  ext: 'jpg' | 'png';
  sha256: string;
  phash: string;
  width: number;
  height: number;
};
export type RejectedImage = { ok: false; reason: FailureReason; detail: string };

const MARKUP_PREFIX = /^\s*(<!doctype|<html|<head|<body|<\?xml(?![\s\S]*<svg)|<script|<div|<p\b|\{|\[)/i;

/** What the bytes look like when they are plainly not an image (an HTML page, JSON). */
export function sniffNonImage(data: Buffer): string | undefined {
  const head = data.subarray(0, 512).toString('utf8');
  if (MARKUP_PREFIX.test(head)) {
    const kind = /^\s*[[{]/.test(head) ? 'JSON' : 'HTML/XML';
    return `the server sent ${kind}, not an image`;
  }
  return undefined;
}

/** A 64-bit difference hash: close pictures (resized, recompressed) have close hashes. */
export async function differenceHash(input: Buffer): Promise<string> {
  const pixels = await sharp(input).greyscale().resize(9, 8, { fit: 'fill' }).raw().toBuffer();
  let bits = '';
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) bits += pixels[y * 9 + x]! < pixels[y * 9 + x + 1]! ? '1' : '0';
  }
  return BigInt(`0b${bits}`).toString(16).padStart(16, '0');
}

/** Set bits of a 32-bit integer; hashes are compared in 32-bit halves to stay off BigInt. */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** The halves of a difference hash as 32-bit integers, for `popcount32` of their XOR. */
export function hashHalves(hash: string): [number, number] {
  return [parseInt(hash.slice(0, 8), 16) | 0, parseInt(hash.slice(8, 16), 16) | 0];
}

export function hammingDistance(a: string, b: string): number {
  const [aHi, aLo] = hashHalves(a);
  const [bHi, bLo] = hashHalves(b);
  return popcount32(aHi ^ bHi) + popcount32(aLo ^ bLo);
}

/** The checks every image passes before it is decoded in full: its kind, its size from the header. */
async function inspect(input: Buffer, settings: ImageSettings): Promise<{ ok: true; meta: sharp.Metadata } | RejectedImage> {
  const markup = sniffNonImage(input);
  if (markup) return { ok: false, reason: 'not_an_image', detail: markup };

  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    const message = (err as Error).message;
    if (/unsupported image format/i.test(message)) return { ok: false, reason: 'not_an_image', detail: 'not a known image format' };
    return { ok: false, reason: 'undecodable', detail: message };
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > settings.maxInputPixels) {
    return {
      ok: false,
      reason: 'too_many_pixels',
      detail: `${width}×${height} is over the limit of ${settings.maxInputPixels} pixels`,
    };
  }
  if (Math.min(width, height) < settings.minSide) {
    return { ok: false, reason: 'too_small', detail: `${width}×${height} is smaller than ${settings.minSide} px on a side` };
  }
  return { ok: true, meta };
}

/**
 * Whether an image (a stored one, for `verify`) still passes: the same checks and a full
 * decode as when it came in, without re-encoding it.
 */
export async function checkImage(input: Buffer, settings: ImageSettings): Promise<{ ok: true } | RejectedImage> {
  const inspected = await inspect(input, settings);
  if (!inspected.ok) return inspected;
  try {
    await sharp(input, { failOn: 'error', limitInputPixels: settings.maxInputPixels }).raw().toBuffer();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: 'undecodable', detail: (err as Error).message };
  }
}

export async function processImage(input: Buffer, settings: ImageSettings): Promise<ProcessedImage | RejectedImage> {
  const inspected = await inspect(input, settings);
  if (!inspected.ok) return inspected;
  const { meta } = inspected;

  try {
    const keepAlpha = meta.hasAlpha === true && !(await sharp(input, { failOn: 'error' }).stats()).isOpaque;
    const pipeline = sharp(input, { failOn: 'error', limitInputPixels: settings.maxInputPixels })
      .rotate()
      .resize({ width: settings.maxStoredSide, height: settings.maxStoredSide, fit: 'inside', withoutEnlargement: true });
    const { data, info } = keepAlpha
      ? await pipeline.png().toBuffer({ resolveWithObject: true })
      : await pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: 90 }).toBuffer({ resolveWithObject: true });
    return {
      ok: true,
      data,
      ext: keepAlpha ? 'png' : 'jpg',
      sha256: createHash('sha256').update(data).digest('hex'),
      phash: await differenceHash(data),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    return { ok: false, reason: 'undecodable', detail: (err as Error).message };
  }
}
