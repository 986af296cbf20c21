/**
 * The `teddy` command: starts the daemon, and speaks the same protocol as the
 * extension for everything else.
 *
 * Exit codes scripts can rely on: 0 done; 1 the daemon refused or the job failed;
 * 2 usage error; 3 the daemon is not running; 4 wrong token; 130 interrupted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import cliProgress from 'cli-progress';
import WebSocket from 'ws';
import { ConnectionClosedError, ProtocolError, TeddyClient, type SocketLike } from '../shared/client.ts';
import { MAX_URLS_PER_ADD, type Job, type LrFindCurve } from '../shared/protocol.ts';
import { formatEpochTable } from './engine/recorder.ts';
import { applyDownloadEnv, buildConfig, EXTENSION_ID, resolveDataDir, resolvePort } from './config.ts';
import { RUNTIME_FILE, startDaemon } from './daemon.ts';
import { DataDirInUseError } from './dataDirLock.ts';
import { readToken } from './token.ts';
import { DAEMON_VERSION } from './version.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3, unauthorized: 4, interrupted: 130 } as const;

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

interface GlobalOptions {
  dataDir?: string;
  port?: string;
  dataset: string;
}

function daemonAddress(opts: GlobalOptions): { port: number; dataDir: string } {
  const dataDir = resolveDataDir(opts.dataDir);
  if (opts.port !== undefined || process.env.TEDDY_PORT) return { port: resolvePort(opts.port), dataDir };
  try {
    const runtime = JSON.parse(readFileSync(join(dataDir, RUNTIME_FILE), 'utf8')) as { port: number };
    return { port: runtime.port, dataDir };
  } catch {
    return { port: resolvePort(undefined), dataDir };
  }
}

async function connect(opts: GlobalOptions): Promise<TeddyClient> {
  const { port, dataDir } = daemonAddress(opts);
  const token = process.env.TEDDY_TOKEN ?? readToken(dataDir);
  if (!token) throw new CliError(`no token found in ${dataDir}: start the daemon with \`teddy start\` first`, EXIT.notRunning);
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  try {
    // ws implements the browser's WebSocket API that the shared client is written against.
    return await TeddyClient.connect(socket as unknown as SocketLike, token, { name: 'teddy-cli', version: DAEMON_VERSION });
  } catch (err) {
    if (err instanceof ProtocolError && err.code === 'unauthorized') throw new CliError(err.message, EXIT.unauthorized);
    if (err instanceof ProtocolError) throw new CliError(err.message, EXIT.failed);
    throw new CliError(`the daemon is not running on 127.0.0.1:${port}: start it with \`teddy start\``, EXIT.notRunning);
  }
}

async function withClient<T>(opts: GlobalOptions, fn: (client: TeddyClient) => Promise<T>): Promise<T> {
  const client = await connect(opts);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

async function ensureDataset(client: TeddyClient, name: string): Promise<void> {
  await client.request('dataset.create', { name });
}

/** Follows a job to its end with a progress bar (on a terminal) and returns how it ended. */
async function followJob(client: TeddyClient, started: Job, label: string): Promise<Job> {
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} ok {ok} failed {failed}`, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(Math.max(1, started.progress.total), 0, { ok: 0, failed: 0 });
  const finished = await new Promise<Job>((resolveJob) => {
    let done = false;
    const finish = (job: Job): void => {
      if (done) return;
      done = true;
      off();
      clearInterval(poll);
      resolveJob(job);
    };
    const off = client.onEvent((event) => {
      if (event.kind === 'image.failed' && event.jobId === started.id && !bar) {
        process.stderr.write(`  failed: ${event.url} — ${event.reason}${event.detail ? `: ${event.detail}` : ''}\n`);
      }
      if ((event.kind === 'job.progress' || event.kind === 'job.finished') && event.job.id === started.id) {
        bar?.setTotal(Math.max(1, event.job.progress.total));
        bar?.update(event.job.progress.done, { ok: event.job.progress.ok, failed: event.job.progress.failed });
        if (event.kind === 'job.finished') finish(event.job);
      }
    });
    // The job may have finished before the subscription saw it; ask now and then.
    const poll = setInterval(() => {
      client
        .request('job.get', { jobId: started.id })
        .then(({ job }) => {
          if (!['queued', 'running'].includes(job.state)) finish(job);
        })
        .catch(() => {});
    }, 1000);
  });
  bar?.stop();
  const p = finished.progress;
  const counts =
    finished.kind === 'train' ? `${p.done}/${p.total} epochs` : finished.kind === 'lr-find' ? `${p.done}/${p.total} steps` : `${p.done}/${p.total} processed, ${p.ok} ok, ${p.failed} failed`;
  console.log(`${label}: ${finished.state} — ${counts}${finished.error ? ` (${finished.error})` : ''}`);
  return finished;
}

function jobExitCode(job: Job): number {
  return job.state === 'done' ? EXIT.ok : EXIT.failed;
}

function readUrlFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT.usage);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

export function formatConfusion(classes: string[], matrix: number[][], split: string): string {
  const width = Math.max(8, ...classes.map((c) => c.length)) + 2;
  const lines = [`confusion matrix (${split}; rows actual, columns predicted)`, ' '.repeat(width) + classes.map((c) => c.padStart(width)).join('')];
  matrix.forEach((row, i) => lines.push(classes[i]!.padEnd(width) + row.map((n) => String(n).padStart(width)).join('')));
  return lines.join('\n');
}

/** The LR finder's curve as text: learning rate against smoothed loss, the suggestion marked. */
export function plotLrFind(curve: LrFindCurve, height = 12, width = 60): string {
  const n = curve.lrs.length;
  if (n === 0) return 'lr_find: no points';
  const losses = curve.smoothedLosses;
  const lo = Math.min(...losses);
  const hi = Math.min(Math.max(...losses), lo + 4 * (losses[0]! - lo || 1));
  const grid = Array.from({ length: height }, () => Array.from({ length: width }, () => ' '));
  const logLo = Math.log10(curve.lrs[0]!);
  const logHi = Math.log10(curve.lrs[n - 1]!);
  const column = (lr: number): number => Math.min(width - 1, Math.max(0, Math.round(((Math.log10(lr) - logLo) / (logHi - logLo || 1)) * (width - 1))));
  losses.forEach((loss, i) => {
    const row = Math.round(((Math.min(loss, hi) - lo) / (hi - lo || 1)) * (height - 1));
    grid[height - 1 - row]![column(curve.lrs[i]!)] = '•';
  });
  const mark = column(curve.suggestedLr);
  for (const row of grid) if (row[mark] === ' ') row[mark] = '|';
  const lines = grid.map((row, r) => `${(hi - (r / (height - 1)) * (hi - lo)).toFixed(3).padStart(8)} ┤${row.join('')}`);
  lines.push(`${' '.repeat(9)}└${'─'.repeat(width)}`);
  lines.push(`${' '.repeat(10)}${curve.lrs[0]!.toExponential(0)}${' '.repeat(Math.max(1, width - 10))}${curve.lrs[n - 1]!.toExponential(0)}`);
  lines.push(`suggested LR ${curve.suggestedLr.toExponential(2)} (|): ${curve.rule}`);
  return lines.join('\n');
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('teddy')
    .description('Teddy: build, clean and use an image classifier from web images')
    .version(DAEMON_VERSION)
    .option('--data-dir <dir>', 'data directory (default: $TEDDY_DATA_DIR or $XDG_DATA_HOME/teddy)')
    .option('--port <port>', 'daemon port (default: $TEDDY_PORT or the running daemon’s)')
    .option('-d, --dataset <name>', 'dataset to work on', 'default')
    .showHelpAfterError()
    // Set before the subcommands are added, so that they inherit it: usage errors must reach main() for exit code 2.
    .exitOverride();

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command('start')
    .description('run the daemon in the foreground (Ctrl-C stops it)')
    .option('--allow-private-addresses', 'let downloads reach loopback and private networks (for local testing)')
    .option('--allow-origin <origin...>', 'another browser origin to accept, e.g. the Firefox build’s moz-extension://UUID')
    .action(async (opts: { allowPrivateAddresses?: boolean; allowOrigin?: string[] }) => {
      const g = globals();
      const config = applyDownloadEnv(
        buildConfig({
          ...(g.dataDir ? { dataDir: g.dataDir } : {}),
          ...(g.port ? { port: g.port } : {}),
          ...(opts.allowPrivateAddresses ? { allowPrivate: true } : {}),
          ...(opts.allowOrigin ? { origins: opts.allowOrigin } : {}),
        }),
      );
      const daemon = await startDaemon(config, (m) => console.error(`[teddy] ${m}`));
      // Before the first line is printed: whoever reads "listening" may send SIGTERM at once,
      // and without these handlers it would kill the process with its lock still held.
      const stopped = new Promise<void>((resolveStop) => {
        const stop = (): void => {
          console.error('[teddy] stopping…');
          void daemon.stop().then(resolveStop);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      console.log(`Teddy daemon ${DAEMON_VERSION} listening on ws://127.0.0.1:${daemon.port}`);
      console.log(`Data directory: ${daemon.dataDir}`);
      console.log(`Pairing token:  ${daemon.token}   (also: teddy token)`);
      console.log(`Pairing code:   teddy://127.0.0.1:${daemon.port}/#${daemon.token}   (paste it in the extension's options)`);
      console.log(`Extension ID:   ${EXTENSION_ID}`);
      console.log('');
      const extensionDir = fileURLToPath(new URL('../dist/extension/', import.meta.url));
      if (existsSync(join(extensionDir, 'manifest.json'))) {
        console.log(`Extension:      built in ${extensionDir}`);
        console.log('Next: in Chrome or Chromium open chrome://extensions, turn on Developer mode, "Load unpacked" that folder,');
        console.log("      then open the extension's options and paste the pairing code above.");
      } else {
        console.log('Next: build the extension with `npm run build:extension` and load dist/extension (see README), or use the CLI:');
      }
      console.log('Or, from another terminal: npx teddy add --class black urls_black.txt && npx teddy download && npx teddy train');
      await stopped;
    });

  program
    .command('token')
    .description('print the pairing token (the extension’s options page asks for it)')
    .option('--code', 'print a pairing code with the daemon’s address and the token, to paste in the extension')
    .action((opts: { code?: boolean }) => {
      const g = globals();
      const { port, dataDir } = daemonAddress(g);
      const token = readToken(dataDir);
      if (!token) throw new CliError(`no token yet in ${dataDir}: run \`teddy start\` once`, EXIT.notRunning);
      console.log(opts.code ? `teddy://127.0.0.1:${port}/#${token}` : token);
    });

  program
    .command('status')
    .description('show whether the daemon runs, and its jobs')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(globals(), async (client) => {
        const status = await client.request('status', {});
        if (opts.json) return console.log(JSON.stringify(status, null, 2));
        console.log(`daemon ${status.daemonVersion} (protocol ${status.protocolVersion}), pid ${status.pid}, up ${status.uptimeSeconds}s`);
        console.log(`data directory ${status.dataDir}; ${status.clients} client(s) connected`);
        console.log(status.engine ? `engine: ${status.engine.backend} — ${status.engine.reason}` : 'engine: starting');
        for (const job of status.activeJobs) console.log(`job #${job.id} ${job.kind} on ${job.dataset}: ${job.progress.done}/${job.progress.total}`);
        if (!status.activeJobs.length) console.log('no job running');
      });
    });

  program
    .command('add')
    .description('add image URLs from a text file (one per line, like urls_black.txt) under a class')
    .requiredOption('-c, --class <name>', 'class the images belong to')
    .option('--source-page <url>', 'page the URLs were collected from')
    .argument('<file>', 'text file of URLs')
    .action(async (file: string, opts: { class: string; sourcePage?: string }) => {
      const urls = readUrlFile(file);
      if (!urls.length) throw new CliError(`${file} holds no URL`, EXIT.usage);
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        await ensureDataset(client, dataset);
        let added = 0;
        let duplicates = 0;
        const rejected: { url: string; reason: string }[] = [];
        for (let i = 0; i < urls.length; i += MAX_URLS_PER_ADD) {
          const items = urls.slice(i, i + MAX_URLS_PER_ADD).map((url) => ({ url, className: opts.class, sourcePage: opts.sourcePage ?? null }));
          const result = await client.request('urls.add', { dataset, items });
          added += result.added;
          duplicates += result.duplicates;
          rejected.push(...result.rejected);
        }
        for (const r of rejected) console.error(`  rejected: ${r.url} — ${r.reason}`);
        console.log(`added ${added} URL(s) to "${opts.class}" in dataset "${dataset}"; ${duplicates} already there; ${rejected.length} rejected`);
      });
    });

  const jobCommand = (name: 'download' | 'verify', description: string) =>
    program
      .command(name)
      .description(description)
      .option('--retry-failed', 'also retry URLs that failed before (download only)')
      .action(async (opts: { retryFailed?: boolean }) => {
        await withClient(globals(), async (client) => {
          const dataset = globals().dataset;
          const { job } =
            name === 'download'
              ? await client.request('job.download', { dataset, retryFailed: opts.retryFailed ?? false })
              : await client.request('job.verify', { dataset });
          setExit(jobExitCode(await followJob(client, job, name)));
        });
      });
  jobCommand('download', 'download and verify the pending URLs of the dataset');
  jobCommand('verify', 'decode every stored image again; what fails goes to the trash (restorable)');

  program
    .command('stats')
    .description('counts per class and split, failures by reason, near-duplicates')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(globals(), async (client) => {
        const stats = await client.request('dataset.stats', { dataset: globals().dataset });
        if (opts.json) return console.log(JSON.stringify(stats, null, 2));
        console.log(`dataset ${stats.dataset}`);
        console.log(['class', 'train', 'valid', 'pending', 'failed', 'trashed'].map((h) => h.padEnd(12)).join(''));
        for (const c of stats.classes) {
          console.log([c.name, c.train, c.valid, c.pending, c.failed, c.trashed].map((v) => String(v).padEnd(12)).join(''));
        }
        const failures = Object.entries(stats.byFailure);
        if (failures.length) console.log(`failures: ${failures.map(([k, v]) => `${k} ${v}`).join(', ')}`);
        if (stats.duplicateGroups.length) console.log(`near-duplicate groups: ${stats.duplicateGroups.map((g) => g.join('+')).join(', ')}`);
      });
    });

  program
    .command('failures')
    .description('list the URLs that failed, with their reasons')
    .action(async () => {
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        for (const status of ['failed', 'duplicate', 'trashed'] as const) {
          for (let offset = 0; ; offset += 1000) {
            const page = await client.request('images.list', { dataset, status, limit: 1000, offset });
            for (const i of page.images) console.log(`${i.id}\t${status}\t${i.failureReason ?? ''}\t${i.url}\t${i.failureDetail ?? ''}`);
            if (offset + 1000 >= page.total) break;
          }
        }
      });
    });

  program
    .command('import')
    .description('import a fastai folder-layout dataset (DIR/<class>/*.jpg, or DIR/cleaned.csv)')
    .argument('<dir>')
    .action(async (dir: string) => {
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        await ensureDataset(client, dataset);
        const { job } = await client.request('job.import', { dataset, dir: resolve(dir) });
        setExit(jobExitCode(await followJob(client, job, 'import')));
      });
    });

  program
    .command('export')
    .description('export the dataset as DIR/<class>/*.jpg plus DIR/cleaned.csv (name,label)')
    .argument('<dir>')
    .action(async (dir: string) => {
      await withClient(globals(), async (client) => {
        const { job } = await client.request('job.export', { dataset: globals().dataset, dir: resolve(dir) });
        setExit(jobExitCode(await followJob(client, job, 'export')));
      });
    });

  program
    .command('train')
    .description('the lesson: fit_one_cycle(4) frozen, then unfreeze, lr_find, fit_one_cycle(2, slice(lo, hi))')
    .option('--epochs <n>', 'stage 1 epochs', '4')
    .option('--lr <lr>', 'stage 1 max learning rate', '3e-3')
    .option('--stage2 <mode>', 'auto | on | off (auto: where the backend can train the body)', 'auto')
    .option('--stage2-epochs <n>', 'stage 2 epochs', '2')
    .option('--lr-find-iterations <n>', 'LR finder steps before stage 2', '50')
    .option('--json', 'print the training report as JSON at the end')
    .action(async (opts: { epochs: string; lr: string; stage2: string; stage2Epochs: string; lrFindIterations: string; json?: boolean }) => {
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        const options = {
          stage1Epochs: Number(opts.epochs),
          stage1Lr: Number(opts.lr),
          stage2: opts.stage2 as 'auto' | 'on' | 'off',
          stage2Epochs: Number(opts.stage2Epochs),
          lrFindIterations: Number(opts.lrFindIterations),
        };
        const { job } = await client.request('train.start', { dataset, options });
        const rows = new Map<string, import('../shared/protocol.ts').EpochRow[]>();
        const off = client.onEvent((event) => {
          if (event.kind !== 'train.update' || event.jobId !== job.id) return;
          const u = event.update;
          if (u.type === 'phase') console.error(`[${u.phase}] ${u.message}`);
          if (u.type === 'epoch') {
            rows.set(u.stage, [...(rows.get(u.stage) ?? []), u.row]);
            console.error(`  ${u.stage} epoch ${u.row.epoch + 1}/${u.totalEpochs}: train_loss ${u.row.trainLoss.toFixed(4)} valid_loss ${u.row.validLoss.toFixed(4)} error_rate ${u.row.errorRate.toFixed(4)}`);
            if (rows.get(u.stage)!.length === u.totalEpochs) console.log(`\n${u.stage}\n${formatEpochTable(rows.get(u.stage)!)}\n`);
          }
          if (u.type === 'diagnosis') for (const d of u.diagnoses) console.log(`diagnosis (${u.stage}): ${d.message}`);
        });
        const finished = await followJob(client, job, 'train');
        off();
        const { report } = await client.request('train.report', { dataset, jobId: job.id });
        if (report) {
          if (report.lrFind) console.log(`lr_find: suggestion ${report.lrFind.suggestedLr.toExponential(2)} (${report.lrFind.rule})`);
          if (report.stage2Skipped) console.log(`stage 2 skipped: ${report.stage2Skipped}`);
          if (report.final) console.log(`final error_rate ${report.final.errorRate.toFixed(4)} on ${report.validImages} validation images (${report.classes.join(', ')})`);
          if (opts.json) console.log(JSON.stringify(report));
        }
        setExit(jobExitCode(finished));
      });
    });

  program
    .command('lr-find')
    .description('the LR finder: loss against an exponentially growing learning rate, with a suggestion')
    .option('--unfrozen', 'sweep with the body unfrozen, as before stage 2')
    .option('--iterations <n>', 'steps of the sweep', '100')
    .option('--json', 'print the curve as JSON')
    .action(async (opts: { unfrozen?: boolean; iterations: string; json?: boolean }) => {
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        const { job } = await client.request('train.lrFind', { dataset, unfrozen: opts.unfrozen ?? false, iterations: Number(opts.iterations) });
        const finished = await followJob(client, job, 'lr-find');
        const { lrFind } = await client.request('train.report', { dataset });
        if (lrFind && finished.state === 'done') {
          if (opts.json) console.log(JSON.stringify(lrFind));
          else console.log(plotLrFind(lrFind));
        }
        setExit(jobExitCode(finished));
      });
    });

  program
    .command('interpret')
    .description('score every image with the newest model: confusion matrix and most-confused pairs')
    .option('--split <split>', 'valid | train', 'valid')
    .option('--min-count <n>', 'most-confused pairs seen at least this often', '1')
    .option('--no-run', 'show the last interpretation without scoring again')
    .action(async (opts: { split: string; minCount: string; run: boolean }) => {
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        if (opts.run) {
          const { job } = await client.request('interpret.run', { dataset });
          const finished = await followJob(client, job, 'interpret');
          if (finished.state !== 'done') return setExit(EXIT.failed);
        }
        const view = await client.request('interpret.get', { dataset, split: opts.split as 'valid' | 'train', minCount: Number(opts.minCount), limit: 1 });
        console.log(formatConfusion(view.classes, view.confusion, opts.split));
        console.log('\nmost confused (actual → predicted: count)');
        for (const m of view.mostConfused) console.log(`  ${m.actual} → ${m.predicted}: ${m.count}`);
        if (!view.mostConfused.length) console.log('  none');
        if (view.stale) console.log('\nnote: a newer model exists; run `teddy interpret` again to score with it');
      });
    });

  program
    .command('top-losses')
    .description('the images the model is most wrong or least sure about, with their ids, files and both probabilities')
    .option('--split <split>', 'valid | train', 'valid')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--offset <n>', 'skip this many', '0')
    .option('--actual <class>', 'only this actual class (a confusion-matrix row)')
    .option('--predicted <class>', 'only this predicted class (a confusion-matrix column)')
    .option('--hide-reviewed', 'leave out images already marked OK or relabelled')
    .option('--json', 'print JSON')
    .action(async (opts: { split: string; limit: string; offset: string; actual?: string; predicted?: string; hideReviewed?: boolean; json?: boolean }) => {
      await withClient(globals(), async (client) => {
        const view = await client.request('interpret.get', {
          dataset: globals().dataset,
          split: opts.split as 'valid' | 'train',
          limit: Number(opts.limit),
          offset: Number(opts.offset),
          hideReviewed: opts.hideReviewed ?? false,
          ...(opts.actual ? { actual: opts.actual } : {}),
          ...(opts.predicted ? { predicted: opts.predicted } : {}),
        });
        if (opts.json) return console.log(JSON.stringify(view.topLosses, null, 2));
        console.log(['id', 'actual', 'predicted', 'loss', 'p(actual)', 'p(predicted)', 'url'].join('\t'));
        for (const i of view.topLosses) {
          console.log([i.imageId, i.actual, i.predicted, i.loss.toFixed(3), i.probActual.toFixed(3), i.probPredicted.toFixed(3), `${i.url}${i.reviewed ? ' (reviewed)' : ''}`].join('\t'));
        }
        console.log(`${view.topLosses.length} of ${view.total} (${view.split})`);
      });
    });

  program
    .command('clean')
    .description('the cleaner: delete (to the trash), relabel or mark OK images by id; undo the last change')
    .argument('<action>', 'delete | relabel | ok | undo')
    .argument('[ids...]', 'image ids (from top-losses)')
    .option('--to <class>', 'new class, for relabel')
    .action(async (action: string, ids: string[], opts: { to?: string }) => {
      const numeric = ids.map(Number);
      if (action !== 'undo' && (!numeric.length || numeric.some((n) => !Number.isInteger(n) || n < 0))) throw new CliError('give image ids', EXIT.usage);
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        if (action === 'delete') console.log(`moved ${(await client.request('images.trash', { dataset, ids: numeric })).trashed} to the trash (teddy clean undo, or teddy restore ID)`);
        else if (action === 'relabel') {
          if (!opts.to) throw new CliError('relabel needs --to CLASS', EXIT.usage);
          console.log(`relabelled ${(await client.request('images.relabel', { dataset, ids: numeric, className: opts.to })).relabelled} as ${opts.to}`);
        } else if (action === 'ok') console.log(`marked ${(await client.request('images.review', { dataset, ids: numeric })).reviewed} as reviewed`);
        else if (action === 'undo') {
          const { undone } = await client.request('images.undo', { dataset });
          console.log(undone ? `undid ${undone.action} of ${undone.images} image(s)` : 'nothing to undo');
        } else throw new CliError(`unknown action ${action}: delete, relabel, ok or undo`, EXIT.usage);
      });
    });

  program
    .command('predict')
    .description('classify image files or URLs with the dataset’s newest model')
    .argument('<inputs...>', 'files or http(s) URLs')
    .option('-k, --top <k>', 'classes to show', '3')
    .option('--json', 'print JSON')
    .action(async (inputs: string[], opts: { top: string; json?: boolean }) => {
      await withClient(globals(), async (client) => {
        const dataset = globals().dataset;
        const k = Number(opts.top);
        const results: { input: string; top: { className: string; probability: number }[] | null; error: string | null }[] = [];
        const urls = inputs.filter((i) => /^https?:\/\//i.test(i));
        if (urls.length) {
          for (const p of (await client.request('predict.urls', { dataset, urls, topK: k })).predictions) results.push({ input: p.url, top: p.top, error: p.error });
        }
        for (const file of inputs.filter((i) => !urls.includes(i))) {
          let data: string;
          try {
            data = readFileSync(file).toString('base64');
          } catch (err) {
            results.push({ input: file, top: null, error: (err as Error).message });
            continue;
          }
          try {
            results.push({ input: file, top: (await client.request('predict.image', { dataset, data, topK: k })).top, error: null });
          } catch (err) {
            if (err instanceof ProtocolError && err.code !== 'invalid_params') throw err;
            results.push({ input: file, top: null, error: (err as Error).message });
          }
        }
        if (opts.json) console.log(JSON.stringify(results, null, 2));
        else for (const r of results) console.log(`${r.input}\t${r.top ? r.top.map((t) => `${t.className} ${t.probability.toFixed(3)}`).join(', ') : `error: ${r.error}`}`);
        if (results.some((r) => r.error)) setExit(EXIT.failed);
      });
    });

  program
    .command('export-model')
    .description('write the newest model as a folder that plain TensorFlow.js loads (model.json + teddy-model.json)')
    .argument('<dir>')
    .option('--model <id>', 'a specific model (teddy models list)')
    .action(async (dir: string, opts: { model?: string }) => {
      await withClient(globals(), async (client) => {
        const result = await client.request('model.export', { dataset: globals().dataset, dir: resolve(dir), ...(opts.model ? { modelId: Number(opts.model) } : {}) });
        console.log(`exported to ${result.dir}: ${result.files.join(', ')}; classes ${result.classes.join(', ')}`);
      });
    });

  program
    .command('import-model')
    .description('use an exported Teddy model folder for this dataset’s predictions')
    .argument('<dir>')
    .action(async (dir: string) => {
      await withClient(globals(), async (client) => {
        const { model } = await client.request('model.import', { dataset: globals().dataset, dir: resolve(dir) });
        console.log(`imported model ${model.id} (${model.classes.join(', ')})`);
      });
    });

  const models = program.command('models').description('trained models and pretrained backbones');
  models
    .command('list')
    .description('the dataset’s trained models, newest first')
    .action(async () => {
      await withClient(globals(), async (client) => {
        for (const m of (await client.request('model.list', { dataset: globals().dataset })).models) {
          console.log(`${m.id}\t${m.createdAt}\t${m.backbone}\t${m.classes.join(',')}\t${m.metrics ? `error_rate ${m.metrics.errorRate.toFixed(4)}` : 'imported'}`);
        }
      });
    });
  models
    .command('import')
    .description('put a pretrained backbone folder (tfjs layers model) into the model cache, for machines without a network')
    .argument('<dir>')
    .option('--id <id>', 'backbone id (default: the default backbone)')
    .action(async (dir: string, opts: { id?: string }) => {
      await withClient(globals(), async (client) => {
        const result = await client.request('backbone.import', { dir: resolve(dir), ...(opts.id ? { id: opts.id } : {}) });
        console.log(`backbone ${result.id} ready in ${result.dir}`);
      });
    });

  program
    .command('trash')
    .description('move images to the trash by id')
    .argument('<ids...>')
    .action(async (ids: string[]) => {
      await withClient(globals(), async (client) => {
        const result = await client.request('images.trash', { dataset: globals().dataset, ids: ids.map(Number) });
        console.log(`trashed ${result.trashed}`);
      });
    });

  program
    .command('restore')
    .description('bring images back from the trash by id')
    .argument('<ids...>')
    .action(async (ids: string[]) => {
      await withClient(globals(), async (client) => {
        const result = await client.request('images.restore', { dataset: globals().dataset, ids: ids.map(Number) });
        console.log(`restored ${result.restored}`);
      });
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      console.error(`teddy: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof ProtocolError) {
      console.error(`teddy: ${err.message}`);
      return err.code === 'unauthorized' ? EXIT.unauthorized : err.code === 'invalid_params' ? EXIT.usage : EXIT.failed;
    }
    if (err instanceof DataDirInUseError) {
      console.error(`teddy: ${err.message}`);
      return EXIT.failed;
    }
    if (err instanceof ConnectionClosedError) {
      console.error(`teddy: ${err.message}`);
      return EXIT.notRunning;
    }
    console.error(`teddy: ${(err as Error).stack ?? String(err)}`);
    return EXIT.failed;
  }
}
