/**
 * Image decoding for the engine: EXIF-oriented, alpha flattened on white, sRGB, resized so
 * the shorter side is the model size (aspect kept; augmentation happens later on the
 * pixels). The sharp decoder here reads every format; fastDecoder.ts reads the common ones
 * faster and hands the rest to it.
 */
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { RgbImage } from './augment.ts';

export interface ImageDecoder {
  /** Decodes `file` (a path, or the bytes themselves) to RGB with its shorter side equal to `shorterSide`. */
  decode(file: string | Buffer, shorterSide: number): Promise<RgbImage>;
  /**
   * The centre `size`×`size` square of `decode(file, size)`, pixel for pixel: what
   * prediction looks at. Because decodedSize keeps the crop offset whole, this is a plain
   * cut with no resampling, and equals the identity render of the full decode.
   */
  decodeCentre(file: string | Buffer, size: number): Promise<DecodedPixels>;
  /** SHA-256 (hex) of the file's bytes: the identity of an image for the feature cache. */
  contentHash(file: string): Promise<string>;
}

/** Decoded pixels: RGB, or RGBA (straight alpha) still to be flattened on white with onWhite. */
export interface DecodedPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** One colour value of a pixel with opacity `alpha` over white: how every decoder flattens transparency. */
export function onWhite(value: number, alpha: number): number {
  const k = alpha / 255;
  return Math.round(value * k + 255 * (1 - k));
}

/** Very elongated images are capped so one panorama cannot cost a huge resample. */
const MAX_ASPECT = 4;

/**
 * The decoded size of a `width`×`height` picture: shorter side `shorterSide`, aspect kept
 * up to MAX_ASPECT, and the longer side rounded to the same parity as the shorter one (at
 * most a pixel of stretch) so the centre square starts on a whole pixel.
 */
export function decodedSize(width: number, height: number, shorterSide: number): [number, number] {
  const scale = shorterSide / Math.min(width, height);
  const side = (length: number): number => {
    const exact = Math.min(length * scale, shorterSide * MAX_ASPECT);
    return Math.max(shorterSide, shorterSide + 2 * Math.round((exact - shorterSide) / 2));
  };
  return [side(width), side(height)];
}

/** Where the centre `size` square of a decoded `width`×`height` image starts. */
export function centreOffset(width: number, height: number, size: number): { left: number; top: number } {
  return { left: (width - size) / 2, top: (height - size) / 2 };
}

function sharpPipeline(file: string | Buffer, shorterSide: number, centre: boolean): Promise<DecodedPixels> {
  const input = sharp(file, { failOn: 'none', limitInputPixels: 100_000_000 });
  return input.metadata().then(async (meta) => {
    const [w, h] = decodedSize(meta.autoOrient?.width ?? meta.width ?? shorterSide, meta.autoOrient?.height ?? meta.height ?? shorterSide, shorterSide);
    let pipeline = input.rotate().flatten({ background: '#ffffff' }).toColourspace('srgb').resize(w, h, { fit: 'fill' });
    if (centre) pipeline = pipeline.extract({ ...centreOffset(w, h, shorterSide), width: shorterSide, height: shorterSide });
    const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${typeof file === 'string' ? file : 'image'}: decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  });
}

export const sharpDecoder: ImageDecoder = {
  decode: (file, shorterSide) => sharpPipeline(file, shorterSide, false),
  decodeCentre: (file, size) => sharpPipeline(file, size, true),
  async contentHash(file) {
    return createHash('sha256').update(await readFile(file)).digest('hex');
  },
};
