import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { generatedJpeg } from '../../tests/helpers/images.ts';
import { fastDecoder, fastPathHeader, napiDecode } from './fastDecoder.ts';

const fast = (bytes: Buffer, size: number): boolean => fastPathHeader(bytes, size) !== undefined;
import { sharpDecoder } from './images.ts';

/** A smooth picture (decoders differ most on noise), with a red block in the top-left corner to tell orientations apart. */
async function photo(width = 320, height = 240): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const corner = x < width / 4 && y < height / 4;
      raw[i] = corner ? 250 : Math.round(127 + 100 * Math.sin(x / 13));
      raw[i + 1] = corner ? 10 : Math.round(127 + 100 * Math.cos(y / 17));
      raw[i + 2] = corner ? 10 : Math.round(((x + y) / (width + height)) * 255);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

/** sharp writes EXIF orientation together with an sRGB profile; dropping the profile (APP2) keeps the picture on the fast path. */
function withoutIccProfile(jpeg: Buffer): Buffer {
  const parts = [jpeg.subarray(0, 2)];
  let i = 2;
  while (jpeg[i] === 0xff && jpeg[i + 1] !== 0xda) {
    const length = jpeg.readUInt16BE(i + 2);
    if (jpeg[i + 1] !== 0xe2) parts.push(jpeg.subarray(i, i + 2 + length));
    i += 2 + length;
  }
  parts.push(jpeg.subarray(i));
  return Buffer.concat(parts);
}

function meanAbsDifference(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('fastDecoder', () => {
  it('sends what it would get wrong or decode slower to sharp: other formats, colour profiles, big JPEGs and WebPs, garbage', async () => {
    const jpeg = await photo();
    expect(fast(jpeg, 224)).toBe(true);
    expect(fast(await sharp(jpeg).png().toBuffer(), 224)).toBe(true);
    expect(fast(await sharp(jpeg).webp().toBuffer(), 224)).toBe(true);
    expect(fast(await sharp(jpeg).gif().toBuffer(), 224)).toBe(false);
    expect(fast(await sharp(jpeg).withIccProfile('p3').jpeg().toBuffer(), 224)).toBe(false);
    expect(fast(await sharp(jpeg).withIccProfile('p3').png().toBuffer(), 224)).toBe(false);
    expect(fast(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 224)).toBe(false);
    // Twice the target size or more: sharp shrinks JPEG and WebP while decoding; PNG stays.
    expect(fast(jpeg, 120)).toBe(false);
    expect(fast(await sharp(jpeg).webp().toBuffer(), 120)).toBe(false);
    expect(fast(await sharp(jpeg).png().toBuffer(), 120)).toBe(true);
    // A Display P3 picture comes out with sharp's sRGB conversion, byte for byte.
    const p3 = await sharp(jpeg).withIccProfile('p3').jpeg().toBuffer();
    expect(Buffer.from((await fastDecoder.decode(p3, 160)).data).equals(Buffer.from((await sharpDecoder.decode(p3, 160)).data))).toBe(true);
  });

  it('decodes JPEG, PNG with transparency and WebP to the same size as sharp and nearly the same pixels', async () => {
    const jpeg = await photo();
    const cases = { jpeg, png: await sharp(jpeg).ensureAlpha(0.5).png().toBuffer(), webp: await sharp(jpeg).webp({ quality: 95 }).toBuffer() };
    for (const [name, bytes] of Object.entries(cases)) {
      expect(fast(bytes, 160), name).toBe(true);
      const decoded = await napiDecode(bytes, 160, false);
      const reference = await sharpDecoder.decode(bytes, 160);
      expect([decoded.width, decoded.height], name).toEqual([reference.width, reference.height]);
      const rgb = (await fastDecoder.decode(bytes, 160)).data;
      expect(meanAbsDifference(rgb, reference.data), name).toBeLessThan(2.5);
    }
  });

  it('applies every EXIF orientation as sharp does (sides swapped for 5–8, the red corner where sharp puts it)', async () => {
    const base = await photo(160, 120);
    for (let orientation = 1; orientation <= 8; orientation++) {
      const bytes = withoutIccProfile(await sharp(base).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer());
      expect(fast(bytes, 64)).toBe(true);
      const decoded = await napiDecode(bytes, 64, false);
      const reference = await sharpDecoder.decode(bytes, 64);
      expect([decoded.width, decoded.height], `orientation ${orientation}`).toEqual([reference.width, reference.height]);
      expect([decoded.width > decoded.height, orientation >= 5]).toEqual([orientation < 5, orientation >= 5]);
      expect(meanAbsDifference((await fastDecoder.decode(bytes, 64)).data, reference.data), `orientation ${orientation}`).toBeLessThan(2.5);
    }
  });

  it('hands a picture it cannot decode to sharp, so the caller gets the error sharp gives for it', async () => {
    const cut = (await generatedJpeg(3, 200, 150)).subarray(0, 200);
    expect(fast(cut, 100)).toBe(true);
    await expect(napiDecode(cut, 100, false)).rejects.toThrow();
    const sharpError = await sharpDecoder.decode(cut, 100).then(() => 'decoded', (err: Error) => err.message);
    expect(sharpError).toMatch(/VipsJpeg/);
    await expect(fastDecoder.decode(cut, 100)).rejects.toThrow(sharpError);
    await expect(fastDecoder.decodeCentre(cut, 100)).rejects.toThrow(/VipsJpeg/);
  });
});
