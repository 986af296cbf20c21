/**
 * Backbones beyond the built-in registry: a folder `<modelDir>/<id>/` holding a tfjs layers
 * model plus `backbone.json` (cutLayer, inputSize, normalization, …) registers itself at
 * start. This is how a user brings another ImageNet CNN, and how browser tests run the
 * real daemon on a tiny network.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../../shared/protocol.ts';
import { getBackboneSpec, registerBackbone } from '../engine/index.ts';

export const BACKBONE_SPEC_FILE = 'backbone.json';

const Triple = z.tuple([z.number(), z.number(), z.number()]);
const SpecFile = z.object({
  description: z.string().default('a custom backbone'),
  cutLayer: z.string().min(1),
  upperBodyStartLayer: z.string().optional(),
  inputSize: z.number().int().min(8).max(1024),
  normalization: z.object({ mean: Triple, std: Triple }),
});

/** Registers `id` from `<modelDir>/<id>/backbone.json` unless it is already known. Returns whether it did. */
export function registerBackboneFromDir(id: string, modelDir: string | undefined): boolean {
  try {
    getBackboneSpec(id);
    return false;
  } catch {
    // not registered yet
  }
  if (!modelDir) return false;
  const file = join(modelDir, id, BACKBONE_SPEC_FILE);
  if (!existsSync(file)) return false;
  const parsed = SpecFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${describeIssues(parsed.error)}`);
  const { upperBodyStartLayer, ...spec } = parsed.data;
  registerBackbone({ id, url: `file://${join(modelDir, id, 'model.json')}`, ...spec, ...(upperBodyStartLayer ? { upperBodyStartLayer } : {}) });
  return true;
}
