/**
 * The engine's everyday decoder: plain JPEG, PNG and WebP through @napi-rs/image, which
 * costs about half of sharp's CPU per picture at the sizes the overlay and training see
 * most (sharp's fixed cost per call, about 0.6 ms of CPU even for an 8×8 image, was more
 * than the decode itself). Whatever it would get wrong or cannot read goes to sharp: other
 * formats, embedded colour profiles and Adobe/CMYK JPEGs (sharp converts those to sRGB),
 * big JPEGs and WebPs (see fastPathHeader), and any picture it fails on. Same geometry as
 * sharp (decodedSize), same white background, same Lanczos 3 resize.
 */
import { FastResizeFilter, Orientation, ResizeFit, Transformer } from '@napi-rs/image';
import { imageSize } from 'image-size';
import { readFile } from 'node:fs/promises';
import type { RgbImage } from './augment.ts';
import { centreOffset, decodedSize, onWhite, sharpDecoder, type DecodedPixels, type ImageDecoder } from './images.ts';

type Format = 'jpeg' | 'png' | 'webp';

function sniff(bytes: Buffer): Format | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length > 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** Markers of pictures whose colours need converting (ICC profile, Adobe/CMYK JPEG). A false alarm only costs speed. */
const COLOUR_MANAGED: Record<Format, readonly string[]> = { jpeg: ['ICC_PROFILE', 'Adobe'], png: ['iCCP'], webp: ['ICCP'] };

interface Header {
  width: number;
  height: number;
  orientation?: number;
}

/**
 * The header of a picture that should take the fast path at `size`, or undefined for sharp.
 * sharp decodes a JPEG or WebP at least twice the target size at a half, quarter or eighth
 * of it ("shrink on load"), which beats decoding it whole here (a 1024×768 JPEG: 3.6 ms
 * against 4.7), so those go to sharp; PNG has no such shortcut.
 */
export function fastPathHeader(bytes: Buffer, size: number): Header | undefined {
  const format = sniff(bytes);
  if (format === undefined || COLOUR_MANAGED[format].some((marker) => bytes.includes(marker, 0, 'latin1'))) return undefined;
  let header: Header;
  try {
    const read = imageSize(bytes);
    header = { width: read.width, height: read.height, ...(read.orientation === undefined ? {} : { orientation: read.orientation }) };
  } catch {
    return undefined;
  }
  if (format !== 'png' && Math.min(header.width, header.height) >= 2 * size) return undefined;
  return header;
}

/** EXIF orientations 5–8 turn the picture a quarter: width and height swap. */
const QUARTER_TURNS = new Set([5, 6, 7, 8]);

/** The fast path alone, without the fallback (exported for tests). */
export async function napiDecode(bytes: Buffer, size: number, centre: boolean, header: Header | undefined = fastPathHeader(bytes, size)): Promise<DecodedPixels> {
  // The header alone gives size and orientation (the transformer's metadata() decodes more).
  if (!header) throw new Error('not a picture for the fast path');
  const turned = header.orientation !== undefined && QUARTER_TURNS.has(header.orientation);
  const [w, h] = decodedSize(turned ? header.height : header.width, turned ? header.width : header.height, size);
  const transformer = new Transformer(bytes);
  // The transformer orients, then resizes, then crops, whatever order the calls come in.
  // It is told the orientation the sizes above were worked out from, rather than reading
  // its own, so the two can never disagree and stretch the picture.
  // Lanczos3, as sharp resizes by default: the same pictures as before this decoder.
  transformer.rotate(header.orientation ?? Orientation.Horizontal).fastResize({ width: w, height: h, fit: ResizeFit.Fill, filter: FastResizeFilter.Lanczos3 });
  const out = centre ? { width: size, height: size } : { width: w, height: h };
  if (centre) {
    const { left, top } = centreOffset(w, h, size);
    transformer.crop(left, top, size, size);
  }
  const pixels = await transformer.rawPixels();
  const data = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length);
  const count = out.width * out.height;
  if (pixels.length === count * 3) return { ...out, data, channels: 3 };
  if (pixels.length === count * 4) return { ...out, data, channels: 4 };
  throw new Error(`decoded ${pixels.length} bytes, expected ${out.width}×${out.height} RGB or RGBA`);
}

/** RGBA → RGB over a white background. */
function toRgb(pixels: DecodedPixels): RgbImage {
  if (pixels.channels === 3) return pixels;
  const rgba = pixels.data;
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    const alpha = rgba[i + 3]!;
    if (alpha === 255) {
      rgb[o] = rgba[i]!;
      rgb[o + 1] = rgba[i + 1]!;
      rgb[o + 2] = rgba[i + 2]!;
    } else {
      rgb[o] = onWhite(rgba[i]!, alpha);
      rgb[o + 1] = onWhite(rgba[i + 1]!, alpha);
      rgb[o + 2] = onWhite(rgba[i + 2]!, alpha);
    }
  }
  return { data: rgb, width: pixels.width, height: pixels.height };
}

async function bytesOf(file: string | Buffer): Promise<Buffer> {
  return typeof file === 'string' ? readFile(file) : file;
}

export const fastDecoder: ImageDecoder = {
  async decode(file, shorterSide) {
    const bytes = await bytesOf(file);
    const header = fastPathHeader(bytes, shorterSide);
    if (!header) return sharpDecoder.decode(bytes, shorterSide);
    return napiDecode(bytes, shorterSide, false, header).then(toRgb, () => sharpDecoder.decode(bytes, shorterSide));
  },
  async decodeCentre(file, size) {
    const bytes = await bytesOf(file);
    const header = fastPathHeader(bytes, size);
    if (!header) return sharpDecoder.decodeCentre(bytes, size);
    return napiDecode(bytes, size, true, header).catch(() => sharpDecoder.decodeCentre(bytes, size));
  },
  contentHash: sharpDecoder.contentHash,
};
