/**
 * Before the browser tests: builds the e2e flavour of the extension, and makes what the
 * training workflow needs without a network — a tiny backbone standing in for the
 * ImageNet one (registered by the daemon from its backbone.json) and coloured-shape
 * pictures (disc / square / stripes) that the fixture image server hands out.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ARTIFACTS_DIR } from './browser.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** TEDDY_MODEL_DIR holding the `tiny-test` backbone. */
    tinyModelDir: string;
    /** makeShapesDataset output: <dir>/<kind>/<kind>-<i>.(jpg|png). */
    shapesDir: string;
  }
}

export const SHAPES_PER_CLASS = 40;

export default async function setup(project: TestProject): Promise<() => void> {
  const root = resolve(import.meta.dirname, '..', '..');
  // Once here rather than in each test file that takes screenshots.
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  execFileSync(process.execPath, [resolve(root, 'node_modules/vite/bin/vite.js'), 'build', '--mode', 'e2e', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });

  // Imported here, not at the top: tfjs is slow to load and only this part needs it.
  const { makeShapesDataset } = await import('../../daemon/engine/test-fixtures.ts');
  const { writeTinyBackbone } = await import('../helpers/tinyBackbone.ts');
  const work = mkdtempSync(join(tmpdir(), 'teddy-e2e-'));
  const modelDir = join(work, 'models');
  await writeTinyBackbone(modelDir);
  // 96 px: well above the daemon's 32 px minimum, and large enough to be worth a badge on a page.
  const shapesDir = join(work, 'shapes');
  await makeShapesDataset(shapesDir, SHAPES_PER_CLASS, 96);

  project.provide('tinyModelDir', modelDir);
  project.provide('shapesDir', shapesDir);
  return () => rmSync(work, { recursive: true, force: true });
}
