import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemonProcess, TEDDY_BIN, tempDataDir, type DaemonProcess } from '../helpers/daemonProcess.ts';
import { generatedJpeg } from '../helpers/images.ts';
import { serveBytes, startImageServer, type ImageServer } from '../helpers/imageServer.ts';

const run = promisify(execFile);
let server: ImageServer;
let daemon: DaemonProcess;
let work: string;

async function teddy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [TEDDY_BIN, '--data-dir', daemon.dataDir, '--dataset', 'bears', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  const images = await Promise.all(Array.from({ length: 8 }, (_, i) => generatedJpeg(500 + i, 100, 80)));
  server = await startImageServer(Object.fromEntries(images.map((d, i) => [`/${i}.jpg`, serveBytes(d)])));
  daemon = await startDaemonProcess(tempDataDir());
  work = tempDataDir('teddy-cli-');
});

afterAll(async () => {
  await daemon?.stop();
  await server?.close();
});

describe('the teddy CLI, as a script would use it', () => {
  it('adds URL files per class, like the lesson’s urls_<class>.txt', async () => {
    writeFileSync(join(work, 'urls_black.txt'), [0, 1, 2, 3].map((i) => server.url(`/${i}.jpg`)).join('\n') + '\n\n# a comment\n');
    writeFileSync(join(work, 'urls_teddys.txt'), [4, 5, 6, 7].map((i) => server.url(`/${i}.jpg`)).join('\n') + '\nftp://x/y.jpg\n');
    const black = await teddy('add', '--class', 'black', join(work, 'urls_black.txt'));
    expect(black.code).toBe(0);
    expect(black.stdout).toMatch(/added 4 URL/);
    const teddys = await teddy('add', '--class', 'teddys', join(work, 'urls_teddys.txt'));
    expect(teddys.stdout).toMatch(/added 4 URL.*1 rejected/);
  });

  it('downloads with exit code 0 and a summary', async () => {
    const result = await teddy('download');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/download: done — 8\/8 processed, 8 ok, 0 failed/);
  });

  it('prints stats per class as JSON', async () => {
    const result = await teddy('stats', '--json');
    const stats = JSON.parse(result.stdout);
    expect(stats.classes.map((c: { name: string; train: number; valid: number }) => [c.name, c.train + c.valid])).toEqual([
      ['black', 4],
      ['teddys', 4],
    ]);
  });

  it('exports the fastai folder layout with a cleaned.csv, and imports it back into a new dataset', async () => {
    const out = join(work, 'export');
    expect((await teddy('export', out)).code).toBe(0);
    expect(readdirSync(join(out, 'black'))).toHaveLength(4);
    const csv = readFileSync(join(out, 'cleaned.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('name,label');
    expect(csv).toHaveLength(9);
    expect(csv[1]).toMatch(/^black\/\d{8}\.jpg,black$/);

    const imported = await run(process.execPath, [TEDDY_BIN, '--data-dir', daemon.dataDir, '--dataset', 'copy', 'import', out]);
    expect(imported.stdout).toMatch(/import: done — 8\/8 processed, 8 ok/);
  });

  it('refuses to export into a folder of the user’s that is not an earlier export, touching nothing', async () => {
    const precious = join(work, 'documents');
    mkdirSync(precious);
    writeFileSync(join(precious, 'thesis.txt'), 'years of work');
    const result = await teddy('export', precious);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/not empty and holds no earlier Teddy export/);
    expect(readdirSync(precious)).toEqual(['thesis.txt']);
    expect(readFileSync(join(precious, 'thesis.txt'), 'utf8')).toBe('years of work');
    // An earlier export can be written again.
    expect((await teddy('export', join(work, 'export'))).code).toBe(0);
  });

  it('imports a plain folder layout whose labels come from the folder names', async () => {
    const root = join(work, 'folders');
    mkdirSync(join(root, 'grizzly'), { recursive: true });
    writeFileSync(join(root, 'grizzly', 'a.jpg'), await generatedJpeg(900));
    writeFileSync(join(root, 'grizzly', 'broken.jpg'), Buffer.from('not really'));
    writeFileSync(join(root, 'grizzly', 'notes.txt'), 'ignored');
    const { stdout } = await run(process.execPath, [TEDDY_BIN, '--data-dir', daemon.dataDir, '--dataset', 'folders', 'import', root]);
    expect(stdout).toMatch(/2\/2 processed, 1 ok, 1 failed/);
  });

  it('verify moves a file that went bad on disk to the trash, and restore brings it back', async () => {
    const db = new Database(join(daemon.dataDir, 'teddy.db'), { readonly: true });
    const victim = db
      .prepare(`SELECT file FROM images JOIN datasets ON datasets.id = images.dataset_id WHERE datasets.name = 'bears' AND file IS NOT NULL`)
      .get() as { file: string };
    db.close();
    const path = join(daemon.dataDir, victim.file);
    const original = readFileSync(path);
    writeFileSync(path, original.subarray(0, 200));
    const verify = await teddy('verify');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/verify: done — 8\/8 processed, 7 ok, 1 failed/);
    const failures = (await teddy('failures')).stdout.trim().split('\n');
    const trashed = failures.filter((l) => l.includes('\ttrashed\t'));
    expect(trashed).toHaveLength(1);
    expect(trashed[0]).toMatch(/undecodable/);

    writeFileSync(path, original);
    const id = trashed[0]!.split('\t')[0]!;
    expect((await teddy('restore', id)).stdout).toMatch(/restored 1/);
    const stats = JSON.parse((await teddy('stats', '--json')).stdout);
    expect(stats.byStatus).toEqual({ ok: 8 });
  });

  it('exits 2 on a usage error and 3 when no daemon runs', async () => {
    expect((await teddy('add', '--class', 'x')).code).toBe(2);
    const none = await run(process.execPath, [TEDDY_BIN, '--data-dir', join(work, 'nothing-here'), 'status']).catch((e) => e);
    expect(none.code).toBe(3);
  });

  it('exits 4 with a wrong token', async () => {
    const wrong = await run(process.execPath, [TEDDY_BIN, '--data-dir', daemon.dataDir, 'status'], {
      env: { ...process.env, TEDDY_TOKEN: 'not-the-token' },
    }).catch((e) => e);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/wrong token/);
  });
});
