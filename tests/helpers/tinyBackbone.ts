/**
 * A tiny backbone folder the real daemon can train on: the test network saved as a tfjs
 * layers model plus the backbone.json the daemon registers it from. Point TEDDY_MODEL_DIR
 * at `modelDir` and set TEDDY_BACKBONE to TINY_BACKBONE.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Browser tests import this name without wanting tfjs loaded: the engine modules are imported lazily below. */
export const TINY_BACKBONE = 'tiny-test';

export async function writeTinyBackbone(modelDir: string): Promise<void> {
  const [{ saveLayersModelToDir }, { buildTinyNetwork, tinySpec }] = await Promise.all([
    import('../../daemon/engine/model-io.ts'),
    import('../../daemon/engine/test-fixtures.ts'),
  ]);
  const network = buildTinyNetwork();
  await saveLayersModelToDir(network, join(modelDir, TINY_BACKBONE));
  network.dispose();
  // tinySpec's fields, so a daemon that registers it from this file trains what the engine tests train; id and url come from the folder.
  const { cutLayer, upperBodyStartLayer, inputSize, normalization } = tinySpec(TINY_BACKBONE);
  writeFileSync(join(modelDir, TINY_BACKBONE, 'backbone.json'), JSON.stringify({ cutLayer, upperBodyStartLayer, inputSize, normalization }));
}
