import { createHash } from 'node:crypto';
import type { Split } from '../../shared/protocol.ts';

/**
 * Decides an image's split from its content hash and the dataset's seed alone, so
 * an image keeps its split when others are added or removed, and metrics before
 * and after cleaning are measured on comparable validation sets.
 */
export function validationSplit(seed: number, contentSha256: string, validPct: number): Split {
  const digest = createHash('sha256').update(`${seed}:${contentSha256}`).digest();
  const unit = digest.readUInt32BE(0) / 2 ** 32;
  return unit < validPct ? 'valid' : 'train';
}
