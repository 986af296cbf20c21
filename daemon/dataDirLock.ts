/**
 * One daemon per data directory. A second one would take the first one's running jobs for
 * interrupted and sweep the files it is writing as orphans; it is refused instead. A lock
 * left by a daemon that died (SIGKILL, power cut) names a process that no longer runs, and
 * is taken over.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'daemon.lock';

export class DataDirInUseError extends Error {}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data directory's lock; returns its release. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processRuns(holder)) {
        throw new DataDirInUseError(`another Teddy daemon (pid ${holder}) is using ${dataDir}; stop it first, or choose another --data-dir`);
      }
      // Stale: its daemon is gone.
      rmSync(path, { force: true });
    }
  }
  throw new DataDirInUseError(`could not lock ${dataDir}`);
}
