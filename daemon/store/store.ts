/**
 * The dataset store: datasets, classes, images and jobs in SQLite (WAL). It knows
 * nothing of learning, downloading or the protocol; services call it with plain values.
 */
import Database from 'better-sqlite3';
import type {
  ClassInfo,
  Dataset,
  FailureReason,
  ImageStatus,
  Job,
  JobKind,
  JobProgress,
  JobState,
  Metrics,
  Split,
  Image,
} from '../../shared/protocol.ts';
import { validationSplit } from './split.ts';

const SCHEMA_VERSION = 3;

const MIGRATIONS: string[] = [
  `
  CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    valid_pct REAL NOT NULL,
    split_seed INTEGER NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (dataset_id, name)
  );
  CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    url TEXT NOT NULL,
    source_page TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    failure_reason TEXT,
    failure_detail TEXT,
    sha256 TEXT,
    phash TEXT,
    width INTEGER,
    height INTEGER,
    bytes INTEGER,
    split TEXT,
    file TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    trashed_from TEXT,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (dataset_id, url)
  );
  CREATE INDEX images_by_status ON images (dataset_id, status);
  CREATE INDEX images_by_file ON images (file);
  -- One usable copy of each picture per dataset: the same bytes under a second URL is a duplicate.
  CREATE UNIQUE INDEX images_unique_content ON images (dataset_id, sha256) WHERE status = 'ok';
  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    progress TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  `,
  `
  ALTER TABLE jobs ADD COLUMN result TEXT;
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    job_id INTEGER REFERENCES jobs(id),
    path TEXT NOT NULL,
    backbone TEXT NOT NULL,
    classes TEXT NOT NULL,
    metrics TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
  `
  ALTER TABLE images ADD COLUMN reviewed_at TEXT;
  -- What cleaning changed, so that the last change can be undone.
  CREATE TABLE clean_log (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    before TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL
  );
  `,
];

interface ImageRow {
  id: number;
  dataset_id: number;
  class_id: number;
  class_name: string;
  url: string;
  source_page: string | null;
  status: ImageStatus;
  failure_reason: FailureReason | null;
  failure_detail: string | null;
  sha256: string | null;
  phash: string | null;
  width: number | null;
  height: number | null;
  split: Split | null;
  file: string | null;
  attempts: number;
  trashed_from: ImageStatus | null;
  reviewed_at: string | null;
}

interface JobRow {
  id: number;
  dataset_id: number;
  dataset_name: string;
  kind: JobKind;
  state: JobState;
  params: string;
  progress: string;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface StoredImage extends Image {
  datasetId: number;
  classId: number;
  attempts: number;
}

export interface NewImage {
  url: string;
  className: string;
  sourcePage?: string | null | undefined;
}

export interface AcceptedImage {
  sha256: string;
  phash: string;
  width: number;
  height: number;
  bytes: number;
  file: string;
}

export type AcceptOutcome = { status: 'ok'; split: Split } | { status: 'duplicate'; duplicateOf: number };

export class NotFoundError extends Error {}

export type CleanAction = 'trash' | 'relabel' | 'review';

interface CleanSnapshot {
  id: number;
  class_id: number;
  status: ImageStatus;
  trashed_from: ImageStatus | null;
  reviewed_at: string | null;
}

const now = (): string => new Date().toISOString();

function toImage(row: ImageRow): StoredImage {
  return {
    id: row.id,
    datasetId: row.dataset_id,
    classId: row.class_id,
    url: row.url,
    sourcePage: row.source_page,
    className: row.class_name,
    status: row.status,
    failureReason: row.failure_reason,
    failureDetail: row.failure_detail,
    sha256: row.sha256,
    phash: row.phash,
    width: row.width,
    height: row.height,
    split: row.split,
    file: row.file,
    reviewed: row.reviewed_at !== null,
    attempts: row.attempts,
  };
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    dataset: row.dataset_name,
    kind: row.kind,
    state: row.state,
    progress: JSON.parse(row.progress) as JobProgress,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const IMAGE_SELECT = `SELECT images.*, classes.name AS class_name FROM images JOIN classes ON classes.id = images.class_id`;
const JOB_SELECT = `SELECT jobs.*, datasets.name AS dataset_name FROM jobs JOIN datasets ON datasets.id = jobs.dataset_id`;

export class Store {
  readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across a killed process in WAL mode; only a power cut can drop the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  close(): void {
    this.db.close();
  }

  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  private migrate(): void {
    const current = Number(this.db.pragma('user_version', { simple: true }));
    if (current > SCHEMA_VERSION) {
      throw new Error(`the data directory was written by a newer Teddy (schema ${current}); upgrade Teddy to open it`);
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  // ----- datasets and classes

  createDataset(name: string, validPct = 0.2, splitSeed = 42): { dataset: Dataset; created: boolean } {
    const existing = this.findDataset(name);
    if (existing) return { dataset: existing, created: false };
    const info = this.db
      .prepare('INSERT INTO datasets (name, valid_pct, split_seed, created_at) VALUES (?, ?, ?, ?)')
      .run(name, validPct, splitSeed, now());
    return { dataset: this.getDatasetById(Number(info.lastInsertRowid)), created: true };
  }

  listDatasets(): Dataset[] {
    return (this.db.prepare('SELECT * FROM datasets ORDER BY name').all() as DatasetRow[]).map(toDataset);
  }

  findDataset(name: string): Dataset | undefined {
    const row = this.db.prepare('SELECT * FROM datasets WHERE name = ?').get(name) as DatasetRow | undefined;
    return row ? toDataset(row) : undefined;
  }

  getDataset(name: string): Dataset {
    const dataset = this.findDataset(name);
    if (!dataset) throw new NotFoundError(`no dataset named "${name}"`);
    return dataset;
  }

  getDatasetById(id: number): Dataset {
    return toDataset(this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow);
  }

  ensureClass(datasetId: number, name: string): { class: ClassInfo; created: boolean } {
    const existing = this.db.prepare('SELECT id, name FROM classes WHERE dataset_id = ? AND name = ?').get(datasetId, name) as
      | ClassInfo
      | undefined;
    if (existing) return { class: existing, created: false };
    const info = this.db.prepare('INSERT INTO classes (dataset_id, name) VALUES (?, ?)').run(datasetId, name);
    return { class: { id: Number(info.lastInsertRowid), name }, created: true };
  }

  listClasses(datasetId: number): ClassInfo[] {
    return this.db.prepare('SELECT id, name FROM classes WHERE dataset_id = ? ORDER BY name').all(datasetId) as ClassInfo[];
  }

  // ----- images

  /** Adds URLs as pending images; a URL already in the dataset is counted as a duplicate and left alone. */
  addImages(datasetId: number, items: NewImage[]): { added: number; duplicates: number } {
    const insert = this.db.prepare(
      `INSERT INTO images (dataset_id, class_id, url, source_page, status, added_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (dataset_id, url) DO NOTHING`,
    );
    return this.db.transaction(() => {
      let added = 0;
      const classIds = new Map<string, number>();
      for (const item of items) {
        let classId = classIds.get(item.className);
        if (classId === undefined) {
          classId = this.ensureClass(datasetId, item.className).class.id;
          classIds.set(item.className, classId);
        }
        const t = now();
        added += insert.run(datasetId, classId, item.url, item.sourcePage ?? null, t, t).changes;
      }
      return { added, duplicates: items.length - added };
    })();
  }

  getImage(id: number): StoredImage | undefined {
    const row = this.db.prepare(`${IMAGE_SELECT} WHERE images.id = ?`).get(id) as ImageRow | undefined;
    return row ? toImage(row) : undefined;
  }

  findImageByUrl(datasetId: number, url: string): StoredImage | undefined {
    const row = this.db.prepare(`${IMAGE_SELECT} WHERE images.dataset_id = ? AND images.url = ?`).get(datasetId, url) as
      | ImageRow
      | undefined;
    return row ? toImage(row) : undefined;
  }

  listImages(
    datasetId: number,
    filter: { status?: ImageStatus[]; className?: string; split?: Split; limit?: number; offset?: number } = {},
  ): { images: StoredImage[]; total: number } {
    const where = ['images.dataset_id = ?'];
    const args: unknown[] = [datasetId];
    if (filter.status?.length) {
      where.push(`images.status IN (${filter.status.map(() => '?').join(',')})`);
      args.push(...filter.status);
    }
    if (filter.className !== undefined) {
      where.push('classes.name = ?');
      args.push(filter.className);
    }
    if (filter.split !== undefined) {
      where.push('images.split = ?');
      args.push(filter.split);
    }
    const clause = where.join(' AND ');
    const limit = filter.limit ?? -1;
    const offset = filter.offset ?? 0;
    const rows = this.db
      .prepare(`${IMAGE_SELECT} WHERE ${clause} ORDER BY images.id LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as ImageRow[];
    // Services list whole datasets often (stats, training, interpretation): unpaged, the rows are the count.
    const paged = filter.limit !== undefined || offset !== 0;
    const total = paged
      ? (this.db.prepare(`SELECT COUNT(*) AS n FROM images JOIN classes ON classes.id = images.class_id WHERE ${clause}`).get(...args) as { n: number }).n
      : rows.length;
    return { images: rows.map(toImage), total };
  }

  /** Ids of the web images a download should fetch, oldest first (imported files are the import's). */
  pendingImageIds(datasetId: number, includeFailed: boolean): number[] {
    const statuses = includeFailed ? "('pending','failed')" : "('pending')";
    return (
      this.db
        .prepare(
          `SELECT id FROM images WHERE dataset_id = ? AND status IN ${statuses}
           AND (url LIKE 'http://%' OR url LIKE 'https://%') ORDER BY id`,
        )
        .all(datasetId) as { id: number }[]
    ).map((r) => r.id);
  }

  /** Changes whenever the dataset's usable images change (added, removed, relabelled): a cache key. */
  usableImagesSignature(datasetId: number): string {
    const row = this.db
      .prepare(`SELECT COUNT(*) AS n, MAX(id) AS maxId, MAX(updated_at) AS changed FROM images WHERE dataset_id = ? AND status = 'ok'`)
      .get(datasetId) as { n: number; maxId: number | null; changed: string | null };
    return `${row.n}:${row.maxId}:${row.changed}`;
  }

  noteAttempt(imageId: number): void {
    this.db.prepare('UPDATE images SET attempts = attempts + 1, updated_at = ? WHERE id = ?').run(now(), imageId);
  }

  markFailed(imageId: number, reason: FailureReason, detail: string | null): void {
    this.db
      .prepare(`UPDATE images SET status = 'failed', failure_reason = ?, failure_detail = ?, updated_at = ? WHERE id = ?`)
      .run(reason, detail, now(), imageId);
  }

  /**
   * Records a verified image whose file is already on disk. The same content already
   * in the dataset makes this one a duplicate, decided inside one transaction so that
   * concurrent downloads of the same picture cannot both land.
   */
  acceptImage(imageId: number, accepted: AcceptedImage): AcceptOutcome {
    return this.db.transaction((): AcceptOutcome => {
      const image = this.getImage(imageId);
      if (!image) throw new NotFoundError(`no image ${imageId}`);
      const dataset = this.getDatasetById(image.datasetId);
      const twin = this.findTwin(image.datasetId, accepted.sha256, imageId);
      const t = now();
      if (twin) {
        this.db
          .prepare(
            `UPDATE images SET status = 'duplicate', failure_reason = 'duplicate', failure_detail = ?, sha256 = ?, phash = ?,
             width = ?, height = ?, bytes = ?, file = NULL, split = NULL, updated_at = ? WHERE id = ?`,
          )
          .run(`same picture as image ${twin.id}`, accepted.sha256, accepted.phash, accepted.width, accepted.height, accepted.bytes, t, imageId);
        return { status: 'duplicate', duplicateOf: twin.id };
      }
      const split = validationSplit(dataset.splitSeed, accepted.sha256, dataset.validPct);
      this.db
        .prepare(
          `UPDATE images SET status = 'ok', failure_reason = NULL, failure_detail = NULL, sha256 = ?, phash = ?, width = ?,
           height = ?, bytes = ?, file = ?, split = ?, updated_at = ? WHERE id = ?`,
        )
        .run(accepted.sha256, accepted.phash, accepted.width, accepted.height, accepted.bytes, accepted.file, split, t, imageId);
      return { status: 'ok', split };
    })();
  }

  /** Another usable image of the dataset with these bytes: only one copy of a picture may be usable. */
  private findTwin(datasetId: number, sha256: string, exceptId: number): { id: number } | undefined {
    return this.db
      .prepare(`SELECT id FROM images WHERE dataset_id = ? AND sha256 = ? AND status = 'ok' AND id != ?`)
      .get(datasetId, sha256, exceptId) as { id: number } | undefined;
  }

  private logClean(datasetId: number, action: CleanAction, ids: number[]): void {
    const rows = ids.length
      ? (this.db
          .prepare(`SELECT id, class_id, status, trashed_from, reviewed_at FROM images WHERE dataset_id = ? AND id IN (${ids.map(() => '?').join(',')})`)
          .all(datasetId, ...ids) as CleanSnapshot[])
      : [];
    this.db.prepare('INSERT INTO clean_log (dataset_id, action, before, at) VALUES (?, ?, ?, ?)').run(datasetId, action, JSON.stringify(rows), now());
  }

  /** Gives images another class (fastai's ImageCleaner relabel); their split stays. */
  relabelImages(datasetId: number, ids: number[], className: string): number {
    return this.db.transaction(() => {
      const classId = this.ensureClass(datasetId, className).class.id;
      this.logClean(datasetId, 'relabel', ids);
      const stmt = this.db.prepare('UPDATE images SET class_id = ?, reviewed_at = ?, updated_at = ? WHERE id = ? AND dataset_id = ? AND class_id != ?');
      let n = 0;
      for (const id of ids) n += stmt.run(classId, now(), now(), id, datasetId, classId).changes;
      return n;
    })();
  }

  /** Marks images as looked at and fine, so review queues can leave them out. */
  markReviewed(datasetId: number, ids: number[]): number {
    return this.db.transaction(() => {
      this.logClean(datasetId, 'review', ids);
      const stmt = this.db.prepare('UPDATE images SET reviewed_at = ?, updated_at = ? WHERE id = ? AND dataset_id = ?');
      let n = 0;
      for (const id of ids) n += stmt.run(now(), now(), id, datasetId).changes;
      return n;
    })();
  }

  /** Undoes the dataset's last cleaning change (trash, relabel or review); returns what it undid. */
  undoLastClean(datasetId: number): { action: CleanAction; images: number } | undefined {
    return this.db.transaction(() => {
      const entry = this.db
        .prepare('SELECT id, action, before FROM clean_log WHERE dataset_id = ? AND undone = 0 ORDER BY id DESC LIMIT 1')
        .get(datasetId) as { id: number; action: CleanAction; before: string } | undefined;
      if (!entry) return undefined;
      const before = JSON.parse(entry.before) as CleanSnapshot[];
      const stmt = this.db.prepare(
        'UPDATE images SET class_id = ?, status = ?, trashed_from = ?, reviewed_at = ?, updated_at = ? WHERE id = ? AND dataset_id = ?',
      );
      for (const row of before) stmt.run(row.class_id, row.status, row.trashed_from, row.reviewed_at, now(), row.id, datasetId);
      this.db.prepare('UPDATE clean_log SET undone = 1 WHERE id = ?').run(entry.id);
      return { action: entry.action, images: before.length };
    })();
  }

  /** Moves images to the trash, remembering what they were so that a restore puts them back. */
  trashImages(datasetId: number, ids: number[], reason?: { reason: FailureReason; detail: string | null }): number {
    const stmt = this.db.prepare(
      `UPDATE images SET trashed_from = status, status = 'trashed', failure_reason = COALESCE(?, failure_reason),
       failure_detail = COALESCE(?, failure_detail), updated_at = ? WHERE id = ? AND dataset_id = ? AND status != 'trashed'`,
    );
    return this.db.transaction(() => {
      // Trashing by hand can be undone; the verifier's trashing is undone by restore.
      if (!reason) this.logClean(datasetId, 'trash', ids);
      let n = 0;
      for (const id of ids) n += stmt.run(reason?.reason ?? null, reason?.detail ?? null, now(), id, datasetId).changes;
      return n;
    })();
  }

  /** Brings trashed images back; one whose picture is meanwhile in the dataset again comes back as a duplicate. */
  restoreImages(datasetId: number, ids: number[]): number {
    return this.db.transaction(() => {
      let n = 0;
      for (const id of ids) {
        // trashed_from says what to restore to, and the image view leaves it out: read the row itself.
        const row = this.db.prepare('SELECT dataset_id, status, sha256, trashed_from FROM images WHERE id = ?').get(id) as
          | Pick<ImageRow, 'dataset_id' | 'status' | 'sha256' | 'trashed_from'>
          | undefined;
        if (!row || row.dataset_id !== datasetId || row.status !== 'trashed') continue;
        let status: ImageStatus = row.trashed_from ?? 'ok';
        if (status === 'ok' && row.sha256 && this.findTwin(datasetId, row.sha256, id)) status = 'duplicate';
        const clearsFailure = status === 'ok' || status === 'pending';
        this.db
          .prepare(
            `UPDATE images SET status = ?, trashed_from = NULL, updated_at = ?,
             failure_reason = CASE WHEN ? THEN NULL ELSE failure_reason END,
             failure_detail = CASE WHEN ? THEN NULL ELSE failure_detail END WHERE id = ?`,
          )
          .run(status, now(), clearsFailure ? 1 : 0, clearsFailure ? 1 : 0, id);
        n++;
      }
      return n;
    })();
  }

  /** Every file path the store refers to, trashed images included: what is not here is an orphan. */
  referencedFiles(): Set<string> {
    const rows = this.db.prepare('SELECT DISTINCT file FROM images WHERE file IS NOT NULL').all() as { file: string }[];
    return new Set(rows.map((r) => r.file));
  }

  countsByStatus(datasetId: number): Record<string, number> {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM images WHERE dataset_id = ? GROUP BY status').all(datasetId) as {
      status: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  countsByFailure(datasetId: number): Record<string, number> {
    const rows = this.db
      .prepare(
        `SELECT failure_reason AS reason, COUNT(*) AS n FROM images WHERE dataset_id = ? AND failure_reason IS NOT NULL
         GROUP BY failure_reason`,
      )
      .all(datasetId) as { reason: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
  }

  classCounts(datasetId: number): { name: string; train: number; valid: number; pending: number; failed: number; trashed: number }[] {
    return this.db
      .prepare(
        `SELECT classes.name AS name,
           SUM(images.status = 'ok' AND images.split = 'train') AS train,
           SUM(images.status = 'ok' AND images.split = 'valid') AS valid,
           SUM(images.status = 'pending') AS pending,
           SUM(images.status IN ('failed', 'duplicate')) AS failed,
           SUM(images.status = 'trashed') AS trashed
         FROM classes LEFT JOIN images ON images.class_id = classes.id
         WHERE classes.dataset_id = ? GROUP BY classes.id ORDER BY classes.name`,
      )
      .all(datasetId)
      .map((r) => {
        const row = r as Record<string, number | string | null>;
        return {
          name: String(row.name),
          train: Number(row.train ?? 0),
          valid: Number(row.valid ?? 0),
          pending: Number(row.pending ?? 0),
          failed: Number(row.failed ?? 0),
          trashed: Number(row.trashed ?? 0),
        };
      });
  }

  // ----- jobs

  createJob(datasetId: number, kind: JobKind, params: unknown): Job {
    const t = now();
    const progress: JobProgress = { done: 0, total: 0, ok: 0, failed: 0 };
    const info = this.db
      .prepare('INSERT INTO jobs (dataset_id, kind, state, params, progress, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(datasetId, kind, 'queued', JSON.stringify(params ?? {}), JSON.stringify(progress), t, t);
    return this.getJob(Number(info.lastInsertRowid));
  }

  getJob(id: number): Job {
    const row = this.db.prepare(`${JOB_SELECT} WHERE jobs.id = ?`).get(id) as JobRow | undefined;
    if (!row) throw new NotFoundError(`no job ${id}`);
    return toJob(row);
  }

  jobParams(id: number): unknown {
    const row = this.db.prepare('SELECT params FROM jobs WHERE id = ?').get(id) as { params: string } | undefined;
    return row ? JSON.parse(row.params) : undefined;
  }

  listJobs(datasetId?: number, states?: JobState[]): Job[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (datasetId !== undefined) {
      where.push('jobs.dataset_id = ?');
      args.push(datasetId);
    }
    if (states?.length) {
      where.push(`jobs.state IN (${states.map(() => '?').join(',')})`);
      args.push(...states);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return (this.db.prepare(`${JOB_SELECT} ${clause} ORDER BY jobs.id DESC LIMIT 200`).all(...args) as JobRow[]).map(toJob);
  }

  updateJob(id: number, patch: { state?: JobState; progress?: JobProgress; error?: string | null }): Job {
    const sets: string[] = ['updated_at = ?'];
    const args: unknown[] = [now()];
    if (patch.state !== undefined) {
      sets.push('state = ?');
      args.push(patch.state);
    }
    if (patch.progress !== undefined) {
      sets.push('progress = ?');
      args.push(JSON.stringify(patch.progress));
    }
    if (patch.error !== undefined) {
      sets.push('error = ?');
      args.push(patch.error);
    }
    this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
    return this.getJob(id);
  }

  setJobResult(id: number, result: unknown): void {
    this.db.prepare('UPDATE jobs SET result = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(result), now(), id);
  }

  jobResult(id: number): unknown {
    const row = this.db.prepare('SELECT result FROM jobs WHERE id = ?').get(id) as { result: string | null } | undefined;
    return row?.result ? JSON.parse(row.result) : null;
  }

  /** The newest finished job of a kind on a dataset that left a result. */
  latestJobWithResult(datasetId: number, kind: JobKind): Job | undefined {
    const row = this.db
      .prepare(`${JOB_SELECT} WHERE jobs.dataset_id = ? AND jobs.kind = ? AND jobs.state = 'done' AND jobs.result IS NOT NULL ORDER BY jobs.id DESC LIMIT 1`)
      .get(datasetId, kind) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  // ----- trained models

  addModel(model: Omit<ModelRecord, 'id' | 'createdAt'>): ModelRecord {
    const info = this.db
      .prepare('INSERT INTO models (dataset_id, job_id, path, backbone, classes, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(model.datasetId, model.jobId, model.path, model.backbone, JSON.stringify(model.classes), JSON.stringify(model.metrics), now());
    return this.getModel(Number(info.lastInsertRowid))!;
  }

  getModel(id: number): ModelRecord | undefined {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    return row ? toModel(row) : undefined;
  }

  listModels(datasetId: number): ModelRecord[] {
    return (this.db.prepare('SELECT * FROM models WHERE dataset_id = ? ORDER BY id DESC').all(datasetId) as ModelRow[]).map(toModel);
  }

  allModelPaths(): string[] {
    return (this.db.prepare('SELECT path FROM models').all() as { path: string }[]).map((r) => r.path);
  }

  /** The dataset's newest trained model: what predictions use. */
  latestModel(datasetId: number): ModelRecord | undefined {
    const row = this.db.prepare('SELECT * FROM models WHERE dataset_id = ? ORDER BY id DESC LIMIT 1').get(datasetId) as ModelRow | undefined;
    return row ? toModel(row) : undefined;
  }

  /** Jobs that were running when the daemon died cannot still be running: say so. */
  markInterruptedJobs(): Job[] {
    const running = this.listJobs(undefined, ['running', 'queued']);
    const stmt = this.db.prepare(`UPDATE jobs SET state = 'interrupted', error = ?, updated_at = ? WHERE id = ?`);
    this.db.transaction(() => {
      for (const job of running) stmt.run('the daemon stopped while this job was running', now(), job.id);
    })();
    return running.map((j) => this.getJob(j.id));
  }
}

interface DatasetRow {
  id: number;
  name: string;
  valid_pct: number;
  split_seed: number;
  created_at: string;
}

function toDataset(row: DatasetRow): Dataset {
  return { id: row.id, name: row.name, validPct: row.valid_pct, splitSeed: row.split_seed, createdAt: row.created_at };
}

export interface ModelRecord {
  id: number;
  datasetId: number;
  /** The training job that made it; null for an imported model. */
  jobId: number | null;
  /** Stage or export folder, relative to the data directory. */
  path: string;
  backbone: string;
  classes: string[];
  metrics: Metrics | null;
  createdAt: string;
}

interface ModelRow {
  id: number;
  dataset_id: number;
  job_id: number | null;
  path: string;
  backbone: string;
  classes: string;
  metrics: string;
  created_at: string;
}

function toModel(row: ModelRow): ModelRecord {
  return {
    id: row.id,
    datasetId: row.dataset_id,
    jobId: row.job_id,
    path: row.path,
    backbone: row.backbone,
    classes: JSON.parse(row.classes) as string[],
    metrics: JSON.parse(row.metrics) as ModelRecord['metrics'],
    createdAt: row.created_at,
  };
}
