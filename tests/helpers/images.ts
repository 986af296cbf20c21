/** Generated test images: distinct pictures from a seed, no files needed. */
import sharp from 'sharp';

export async function generatedJpeg(seed: number, width = 96, height = 72): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * (seed % 7 + 1) * 37 + seed * 13) & 255;
      raw[i + 1] = (y * (seed % 5 + 1) * 29 + seed * 7) & 255;
      raw[i + 2] = ((x ^ y) * (seed % 3 + 1) + seed * 31) & 255;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}
