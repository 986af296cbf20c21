/** What the benches share: argument parsing, rounding for their JSON lines, and where the backbone is. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** The backbones a sibling checkout of the shared assets holds, so benches run offline. */
export const SHARED_MODELS = resolve(REPO_ROOT, '..', 'shared', 'models');
/** The default backbone's folder name under SHARED_MODELS. */
export const MOBILENET_FOLDER = 'mobilenet_v1_0.75_224';

/**
 * TEDDY_MODEL_DIR when set, else `SHARED_MODELS[/folder]` when present, else undefined (the
 * daemon then downloads into its cache). Empty counts as unset, as it does for the daemon.
 */
export function benchModelDir(folder?: string): string | undefined {
  if (process.env.TEDDY_MODEL_DIR) return process.env.TEDDY_MODEL_DIR;
  const dir = folder ? join(SHARED_MODELS, folder) : SHARED_MODELS;
  return existsSync(dir) ? dir : undefined;
}

/** The value after `--name`, or `fallback` when the flag or its value is missing. */
export function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** `arg` as a number; a missing or non-numeric value gives `fallback` rather than NaN figures. */
export function numberArg(args: string[], name: string, fallback: number): number {
  const text = arg(args, name, '');
  const value = Number(text);
  return text !== '' && Number.isFinite(value) ? value : fallback;
}

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
