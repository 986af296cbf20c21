/**
 * Import and export in fastai's folder layout (`root/<class>/<image>`) and its
 * `name,label` CSV (cleaned.csv), so a fastai user can bring a dataset in and take it
 * back out.
 */
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { Name } from '../../shared/protocol.ts';
import { writeAtomic } from '../engine/model-io.ts';
import { DaemonError } from './errors.ts';
import { checkExportTarget } from './exportTarget.ts';
import { countOutcome, ingestBytes, type IngestDeps } from './ingest.ts';
import type { JobContext } from './jobRunner.ts';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff', '.avif', '.heic']);
export const LABELS_CSV = 'cleaned.csv';

export interface LabelledFile {
  path: string;
  label: string;
}

/** The images under a folder-layout root, or as listed by its cleaned.csv when it has one. */
export async function listLabelledFiles(root: string): Promise<LabelledFile[]> {
  const csvPath = join(root, LABELS_CSV);
  let csvText: string | undefined;
  try {
    csvText = await readFile(csvPath, 'utf8');
  } catch {
    csvText = undefined;
  }
  if (csvText !== undefined) {
    const rows = parse(csvText, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
    return rows.map((row, i) => {
      const name = row.name;
      const label = row.label;
      if (!name || !label) throw new DaemonError('invalid_params', `${LABELS_CSV} line ${i + 2}: needs "name" and "label" columns`);
      const path = resolve(root, name);
      // A CSV must not point outside its own folder.
      if (isAbsolute(name) || !path.startsWith(resolve(root) + sep)) {
        throw new DaemonError('invalid_params', `${LABELS_CSV} line ${i + 2}: "${name}" is outside ${root}`);
      }
      return { path, label };
    });
  }
  const out: LabelledFile[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(root, entry.name);
    for (const file of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (file.isFile() && IMAGE_EXTENSIONS.has(extname(file.name).toLowerCase())) out.push({ path: join(dir, file.name), label: entry.name });
    }
  }
  return out;
}

export async function runImport(deps: IngestDeps, ctx: JobContext, datasetId: number, root: string): Promise<void> {
  if (!isAbsolute(root)) throw new DaemonError('invalid_params', `the import folder must be an absolute path, not "${root}"`);
  const absRoot = resolve(root);
  let files: LabelledFile[];
  try {
    files = await listLabelledFiles(absRoot);
  } catch (err) {
    if (err instanceof DaemonError) throw err;
    throw new DaemonError('not_found', `cannot read ${absRoot}: ${(err as Error).message}`);
  }
  const usable = files.filter((f) => Name.safeParse(f.label).success);
  deps.store.addImages(
    datasetId,
    usable.map((f) => ({ url: pathToFileURL(f.path).href, className: f.label })),
  );
  // Imports pick up where an interrupted one stopped: every still-pending file of this root.
  const prefix = pathToFileURL(absRoot).href;
  const pending = deps.store.listImages(datasetId, { status: ['pending'] }).images.filter((i) => i.url.startsWith(prefix));
  ctx.progress.total = pending.length;
  ctx.report();
  for (const image of pending) {
    if (ctx.signal.aborted) return;
    let data: Buffer;
    try {
      data = await readFile(new URL(image.url));
    } catch (err) {
      deps.store.markFailed(image.id, 'missing_file', (err as Error).message);
      countOutcome(ctx, image.id, image.url, { ok: false, reason: 'missing_file', detail: (err as Error).message });
      continue;
    }
    countOutcome(ctx, image.id, image.url, await ingestBytes(deps, image.id, data));
  }
}

export async function runExport(deps: IngestDeps, ctx: JobContext, datasetId: number, target: string): Promise<void> {
  const root = await checkExportTarget(target, deps.files.root, LABELS_CSV);
  const { images } = deps.store.listImages(datasetId, { status: ['ok'] });
  ctx.progress.total = images.length;
  ctx.report();
  await mkdir(root, { recursive: true });
  const rows: [string, string][] = [];
  for (const image of images) {
    if (ctx.signal.aborted) return;
    if (!image.file) continue;
    // Class names were validated as single path segments when they were created.
    const name = `${image.className}/${String(image.id).padStart(8, '0')}${extname(image.file)}`;
    const dest = join(root, name);
    if (relative(root, dest).startsWith('..')) throw new DaemonError('invalid_params', `unsafe class name "${image.className}"`);
    await mkdir(join(root, image.className), { recursive: true });
    await copyFile(deps.files.absolute(image.file), dest);
    rows.push([name, image.className]);
    ctx.progress.done++;
    ctx.progress.ok++;
    ctx.report();
  }
  await writeAtomic(join(root, LABELS_CSV), stringify(rows, { header: true, columns: ['name', 'label'] }));
}
