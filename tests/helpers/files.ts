/** What a daemon left on disk, read the same way by every test that inspects a data directory. */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import Database from 'better-sqlite3';

/** Every file below `root`, relative to `base` with `/` separators (the form the store records); none when `root` is absent. */
export function filesUnder(root: string, base = root): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(base, join(e.parentPath, e.name)).split(sep).join('/'));
}

/**
 * SQLite's integrity check of the data directory's store: 'ok' when sound. Read-write by
 * default, so that after a kill SQLite recovers the write-ahead log as the next daemon
 * would; `readonly` beside a daemon that still runs.
 */
export function integrityOf(dataDir: string, { readonly = false }: { readonly?: boolean } = {}): string {
  const db = new Database(join(dataDir, 'teddy.db'), { readonly });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}
