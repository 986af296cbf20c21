/**
 * Where an export may write. An export replaces what it wrote before, so the folder must
 * be new, empty, or an earlier export of the same kind: a mistyped path must never make
 * Teddy overwrite (or delete) a folder of the user's.
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { DaemonError } from './errors.ts';

export async function checkExportTarget(dir: string, dataDir: string, marker: string): Promise<string> {
  if (!isAbsolute(dir)) throw new DaemonError('invalid_params', `the export folder must be an absolute path, not "${dir}"`);
  const target = resolve(dir);
  const root = resolve(dataDir);
  if (target === root || target.startsWith(root + sep) || root.startsWith(target + sep)) {
    throw new DaemonError('invalid_params', 'choose a folder outside the daemon’s data directory');
  }
  let entries: string[];
  try {
    const info = await stat(target);
    if (!info.isDirectory()) throw new DaemonError('invalid_params', `${target} exists and is not a folder`);
    entries = await readdir(target);
  } catch (err) {
    if (err instanceof DaemonError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return target;
    throw new DaemonError('invalid_params', `cannot use ${target}: ${(err as Error).message}`);
  }
  if (entries.length > 0 && !entries.includes(marker)) {
    throw new DaemonError('invalid_params', `${target} is not empty and holds no earlier Teddy export (${marker}): choose a new or empty folder`);
  }
  return target;
}
