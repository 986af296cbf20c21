/**
 * Image decoding, the only module that touches sharp: EXIF-oriented, alpha flattened on
 * white, sRGB, resized so the shorter side is the model size (aspect kept; cropping and
 * augmentation happen later on the pixels).
 */
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { RgbImage } from './augment.ts';

export interface ImageDecoder {
  /** Decodes `file` (a path, or the bytes themselves) to RGB with its shorter side equal to `shorterSide`. */
  decode(file: string | Buffer, shorterSide: number): Promise<RgbImage>;
  /** SHA-256 (hex) of the file's bytes: the identity of an image for the feature cache. */
  contentHash(file: string): Promise<string>;
}

/** Very elongated images are capped so one panorama cannot cost a huge resample. */
const MAX_ASPECT = 4;

export const sharpDecoder: ImageDecoder = {
  async decode(file, shorterSide) {
    const input = sharp(file, { failOn: 'none', limitInputPixels: 100_000_000 });
    const meta = await input.metadata();
    let w = meta.autoOrient?.width ?? meta.width ?? shorterSide;
    let h = meta.autoOrient?.height ?? meta.height ?? shorterSide;
    const scale = shorterSide / Math.min(w, h);
    w = Math.min(Math.round(w * scale), shorterSide * MAX_ASPECT);
    h = Math.min(Math.round(h * scale), shorterSide * MAX_ASPECT);
    const { data, info } = await input
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize(Math.max(w, shorterSide), Math.max(h, shorterSide), { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${typeof file === 'string' ? file : 'image'}: decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  },
  async contentHash(file) {
    return createHash('sha256').update(await readFile(file)).digest('hex');
  },
};
