/**
 * A tiny backbone folder the real daemon can train on: the test network saved as a tfjs
 * layers model plus the backbone.json the daemon registers it from. Point TEDDY_MODEL_DIR
 * at `modelDir` and set TEDDY_BACKBONE to TINY_BACKBONE.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveLayersModelToDir } from '../../daemon/engine/model-io.ts';
import { buildTinyNetwork } from '../../daemon/engine/test-fixtures.ts';

export const TINY_BACKBONE = 'tiny-test';

export async function writeTinyBackbone(modelDir: string): Promise<void> {
  const network = buildTinyNetwork();
  await saveLayersModelToDir(network, join(modelDir, TINY_BACKBONE));
  network.dispose();
  writeFileSync(
    join(modelDir, TINY_BACKBONE, 'backbone.json'),
    JSON.stringify({ cutLayer: 'cut', upperBodyStartLayer: 'c3', inputSize: 32, normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } }),
  );
}
