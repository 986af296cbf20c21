import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { generatedJpeg } from '../../tests/helpers/images.ts';
import { fastDecodable, fastDecoder, napiDecode } from './fastDecoder.ts';
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
  it('sends what it would get wrong to sharp: other formats, colour profiles, garbage', async () => {
    const jpeg = await photo();
    expect(fastDecodable(jpeg)).toBe(true);
    expect(fastDecodable(await sharp(jpeg).png().toBuffer())).toBe(true);
    expect(fastDecodable(await sharp(jpeg).webp().toBuffer())).toBe(true);
    expect(fastDecodable(await sharp(jpeg).gif().toBuffer())).toBe(false);
    expect(fastDecodable(await sharp(jpeg).withIccProfile('p3').jpeg().toBuffer())).toBe(false);
    expect(fastDecodable(await sharp(jpeg).withIccProfile('p3').png().toBuffer())).toBe(false);
    expect(fastDecodable(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe(false);
    // A Display P3 picture comes out with sharp's sRGB conversion, byte for byte.
    const p3 = await sharp(jpeg).withIccProfile('p3').jpeg().toBuffer();
    expect(Buffer.from((await fastDecoder.decode(p3, 64)).data).equals(Buffer.from((await sharpDecoder.decode(p3, 64)).data))).toBe(true);
  });

  it('decodes JPEG, PNG with transparency and WebP to the same size as sharp and nearly the same pixels', async () => {
    const jpeg = await photo();
    const cases = { jpeg, png: await sharp(jpeg).ensureAlpha(0.5).png().toBuffer(), webp: await sharp(jpeg).webp({ quality: 95 }).toBuffer() };
    for (const [name, bytes] of Object.entries(cases)) {
      const fast = await napiDecode(bytes, 112, false);
      const reference = await sharpDecoder.decode(bytes, 112);
      expect([fast.width, fast.height], name).toEqual([reference.width, reference.height]);
      const rgb = (await fastDecoder.decode(bytes, 112)).data;
      expect(meanAbsDifference(rgb, reference.data), name).toBeLessThan(2.5);
    }
  });

  it('applies every EXIF orientation as sharp does (sides swapped for 5–8, the red corner where sharp puts it)', async () => {
    const base = await photo(160, 120);
    for (let orientation = 1; orientation <= 8; orientation++) {
      const bytes = withoutIccProfile(await sharp(base).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer());
      expect(fastDecodable(bytes)).toBe(true);
      const fast = await napiDecode(bytes, 60, false);
      const reference = await sharpDecoder.decode(bytes, 60);
      expect([fast.width, fast.height], `orientation ${orientation}`).toEqual([reference.width, reference.height]);
      expect([fast.width > fast.height, orientation >= 5]).toEqual([orientation < 5, orientation >= 5]);
      expect(meanAbsDifference((await fastDecoder.decode(bytes, 60)).data, reference.data), `orientation ${orientation}`).toBeLessThan(2.5);
    }
  });

  it('hands a picture it cannot decode to sharp, so the caller gets the error sharp gives for it', async () => {
    const cut = (await generatedJpeg(3, 200, 150)).subarray(0, 200);
    expect(fastDecodable(cut)).toBe(true);
    await expect(napiDecode(cut, 64, false)).rejects.toThrow();
    const sharpError = await sharpDecoder.decode(cut, 64).then(() => 'decoded', (err: Error) => err.message);
    expect(sharpError).toMatch(/VipsJpeg/);
    await expect(fastDecoder.decode(cut, 64)).rejects.toThrow(sharpError);
    await expect(fastDecoder.decodeCentre(cut, 64)).rejects.toThrow(/VipsJpeg/);
  });
});
