/**
 * What a killed daemon can leave beside the image store, cleared at the next start:
 * half-written files (temp names), half-saved stages, and stage folders of trainings that
 * never got recorded.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Names our atomic writers use while a file or folder is not finished. */
const UNFINISHED = /\.(tmp-\d+-[a-z0-9]+|saving-\d+|exporting-\d+|part)$/;

function walk(dir: string, visit: (path: string, isDir: boolean) => boolean): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (visit(path, entry.isDirectory()) && entry.isDirectory()) walk(path, visit);
  }
}

/** Removes unfinished files and folders under `dir`; returns how many. */
export function removeUnfinished(dir: string): number {
  let removed = 0;
  walk(dir, (path) => {
    if (!UNFINISHED.test(path)) return true;
    rmSync(path, { recursive: true, force: true });
    removed++;
    return false;
  });
  return removed;
}

/**
 * Removes training folders (`models/dataset-N/job-M`) that no model record points into:
 * a training killed before it finished. Returns the folders removed.
 */
export function removeUnrecordedTrainings(dataDir: string, modelPaths: string[]): string[] {
  const removed: string[] = [];
  const root = join(dataDir, 'models');
  if (!existsSync(root)) return removed;
  for (const datasetDir of readdirSync(root).filter((n) => /^dataset-\d+$/.test(n))) {
    for (const jobDir of readdirSync(join(root, datasetDir)).filter((n) => /^job-\d+$/.test(n))) {
      const rel = relative(dataDir, join(root, datasetDir, jobDir)).split(sep).join('/');
      if (modelPaths.some((p) => p === rel || p.startsWith(`${rel}/`))) continue;
      rmSync(join(root, datasetDir, jobDir), { recursive: true, force: true });
      removed.push(rel);
    }
  }
  return removed;
}
