/**
 * Image files, content-addressed under the data directory. A file appears under its
 * final name only once it is complete (written to tmp/, flushed, then renamed), so a
 * killed daemon leaves at worst a stray temp file, which the next start removes.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/**
 * Room kept free on the data directory's disk: images stop before the disk is full, so that
 * the store can still record what happened (a job's end, a failure) instead of failing too.
 */
export const DEFAULT_FREE_SPACE_RESERVE = 4 * 1024 * 1024;

export class DiskFullError extends Error {
  readonly code = 'ENOSPC';
}

export class FileStore {
  readonly imagesDir: string;
  readonly tmpDir: string;

  constructor(
    readonly root: string,
    private readonly reserveBytes = DEFAULT_FREE_SPACE_RESERVE,
  ) {
    this.imagesDir = join(root, 'images');
    this.tmpDir = join(root, 'tmp');
    mkdirSync(this.imagesDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  /** The path, relative to the data directory, that content with this hash is stored under. */
  relativePathFor(sha256: string, ext: 'jpg' | 'png'): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('not a sha256 hex digest');
    return ['images', sha256.slice(0, 2), `${sha256}.${ext}`].join('/');
  }

  absolute(relativePath: string): string {
    const abs = join(this.root, relativePath);
    if (!abs.startsWith(this.imagesDir + sep)) throw new Error(`refusing a path outside the image store: ${relativePath}`);
    return abs;
  }

  async exists(relativePath: string): Promise<boolean> {
    try {
      return (await stat(this.absolute(relativePath))).isFile();
    } catch {
      return false;
    }
  }

  async read(relativePath: string): Promise<Buffer> {
    return readFile(this.absolute(relativePath));
  }

  /** Writes bytes under their content address; writing the same content twice is a no-op. */
  async put(sha256: string, ext: 'jpg' | 'png', data: Buffer): Promise<string> {
    const rel = this.relativePathFor(sha256, ext);
    if (await this.exists(rel)) return rel;
    const target = this.absolute(rel);
    const fs = await statfs(this.root);
    if (fs.bavail * fs.bsize < data.length + this.reserveBytes) {
      throw new DiskFullError(`only ${Math.round((fs.bavail * fs.bsize) / 1024)} KiB free on the data directory's disk`);
    }
    await mkdir(join(this.imagesDir, sha256.slice(0, 2)), { recursive: true, mode: 0o700 });
    const tmp = join(this.tmpDir, `${sha256}.${randomBytes(6).toString('hex')}.part`);
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return rel;
  }

  async remove(relativePath: string): Promise<void> {
    await rm(this.absolute(relativePath), { force: true });
  }

  /** Every stored image file, as paths relative to the data directory. */
  listAll(): string[] {
    const out: string[] = [];
    for (const shard of readdirSync(this.imagesDir, { withFileTypes: true })) {
      if (!shard.isDirectory()) continue;
      for (const file of readdirSync(join(this.imagesDir, shard.name), { withFileTypes: true })) {
        if (file.isFile()) out.push(relative(this.root, join(this.imagesDir, shard.name, file.name)).split(sep).join('/'));
      }
    }
    return out;
  }

  /**
   * Removes temp files and files no record refers to (left by a daemon killed between
   * writing a file and recording it). Returns what it removed.
   */
  sweep(referenced: Set<string>): { tempFiles: number; orphans: string[] } {
    let tempFiles = 0;
    for (const entry of readdirSync(this.tmpDir)) {
      rmSync(join(this.tmpDir, entry), { force: true, recursive: true });
      tempFiles++;
    }
    const orphans = this.listAll().filter((f) => !referenced.has(f));
    for (const f of orphans) rmSync(join(this.root, f), { force: true });
    return { tempFiles, orphans };
  }
}
