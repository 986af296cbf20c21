/** Runs the real daemon as a child process (`teddy start`), as a user would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { TeddyClient, type SocketLike } from '../../shared/client.ts';
import { PROTOCOL_VERSION, type Job } from '../../shared/protocol.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const TEDDY_BIN = join(REPO_ROOT, 'bin', 'teddy.js');

export interface DaemonProcess {
  child: ChildProcess;
  port: number;
  token: string;
  dataDir: string;
  output: () => string;
  client(): Promise<TeddyClient>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

const tempDirs: string[] = [];

/** A fresh temp folder, removed by `removeTempDirs` (the integration setup calls it after each file). */
export function tempDataDir(prefix = 'teddy-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function startDaemonProcess(dataDir: string, env: Record<string, string> = {}): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [TEDDY_BIN, '--data-dir', dataDir, 'start', '--port', '0', '--allow-private-addresses'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start:\n${output}`)), 30_000);
    const onData = (): void => {
      const match = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code}:\n${output}`)));
  });
  const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
  return {
    child,
    port,
    token,
    dataDir,
    output: () => output,
    client: () => connectClient(port, token),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export function connectClient(port: number, token: string, headers: Record<string, string> = {}): Promise<TeddyClient> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { headers });
  return TeddyClient.connect(socket as unknown as SocketLike, token, { name: 'test', version: '0' });
}

/** Waits until the predicate holds, polling; fails with the last value seen. */
export async function waitFor<T>(fn: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}

/**
 * Polls a job until it has ended, whatever the outcome, and returns it; callers check the
 * state. Size `timeoutMs` to the job: the default suits downloads of a few dozen images.
 */
export async function waitForJob(client: TeddyClient, jobId: number, timeoutMs = 60_000): Promise<Job> {
  const { job } = await waitFor(
    () => client.request('job.get', { jobId }),
    (r) => r.job.state !== 'queued' && r.job.state !== 'running',
    timeoutMs,
  );
  return job;
}

/** A raw socket to the daemon, to send what TeddyClient never would. Rejects on an HTTP refusal of the upgrade. */
export function rawSocket(port: number, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** A raw socket past the hello with the right token; `hello` is the daemon's reply, for callers that check it. */
export async function openAuthenticated(port: number, token: string): Promise<{ ws: WebSocket; hello: unknown }> {
  const ws = await rawSocket(port);
  const reply = new Promise<unknown>((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()))));
  ws.send(JSON.stringify({ id: 'hello', type: 'hello', protocolVersion: PROTOCOL_VERSION, token }));
  return { ws, hello: await reply };
}
