/**
 * Training: the lesson's schedule with its options, then what fastai shows in a notebook —
 * the epoch table, the LR finder plot with its suggestion, the loss curves and the
 * diagnosis in words. Live while the job runs, from the saved report afterwards.
 */
import { useEffect, useState } from 'preact/hooks';
import { TrainOptions, type Job } from '../../shared/protocol.ts';
import { daemon } from '../ask.ts';
import { errorText } from '../ui/errors.ts';
import { useBroadcast } from '../ui/hooks.ts';
import { LineChart } from './charts.tsx';
import { applyUpdate, EMPTY, formatLr, formatSeconds, fromReport, lossCurves, lrFindView, resumeLive, startLive, type TrainViewModel } from './trainState.ts';
import { ACTIVE } from './jobs.ts';
import { useDataset } from './useDataset.ts';

const OPTIONS_KEY = 'teddy.trainOptions';

type OptionsForm = Record<keyof TrainOptions, string>;

function loadOptions(): OptionsForm {
  const defaults = TrainOptions.parse({});
  let saved: Partial<TrainOptions> = {};
  try {
    saved = TrainOptions.partial().parse(JSON.parse(localStorage.getItem(OPTIONS_KEY) ?? '{}'));
  } catch {
    // Unreadable or from an older version: the defaults will do.
  }
  const merged = { ...defaults, ...saved };
  return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, String(v)])) as OptionsForm;
}

function parseOptions(form: OptionsForm): { ok: true; options: TrainOptions } | { ok: false; error: string } {
  const raw = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, k === 'stage2' ? v : Number(v)]));
  const parsed = TrainOptions.safeParse(raw);
  if (parsed.success) return { ok: true, options: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `${issue?.path.join('.') ?? 'options'}: ${issue?.message ?? 'invalid'}` };
}

const FIELDS: { key: keyof TrainOptions; label: string; title: string }[] = [
  { key: 'stage1Epochs', label: 'Epochs (frozen)', title: 'fit_one_cycle(n) with the body frozen' },
  { key: 'stage1Lr', label: 'Max LR', title: 'maximum learning rate of stage 1 (fastai default 3e-3)' },
  { key: 'stage2Epochs', label: 'Epochs (unfrozen)', title: 'fit_one_cycle(n, slice(lo, hi)) after unfreezing' },
  { key: 'lrFindIterations', label: 'LR finder steps', title: 'iterations of the LR finder before stage 2' },
  { key: 'augmentDraws', label: 'Augment draws', title: 'augmented copies of each training image whose features are cached' },
  { key: 'batchSize', label: 'Batch size', title: 'images per batch' },
];

export function TrainView() {
  const [error, setError] = useState<string | null>(null);
  const fail = (err: unknown): void => setError(errorText(err));
  const dataset = useDataset(fail);
  const [form, setForm] = useState<OptionsForm>(loadOptions);
  const [model, setModel] = useState<TrainViewModel>(EMPTY);
  const [job, setJob] = useState<Job | null>(null);
  const [loaded, setLoaded] = useState(false);

  const loadReport = async (name: string, jobId?: number): Promise<void> => {
    const { report, lrFind } = await daemon('train.report', { dataset: name, ...(jobId !== undefined ? { jobId } : {}) });
    const next = report ? fromReport(report) : EMPTY;
    // The daemon answers the newest sweep: a standalone LR finder run after the training replaces the training's own.
    setModel({ ...next, lrFind: lrFind ? lrFindView(lrFind) : null });
  };

  useEffect(() => {
    if (!dataset) return;
    setLoaded(false);
    (async () => {
      const { jobs } = await daemon('job.list', { dataset });
      const running = jobs.filter((j) => (j.kind === 'train' || j.kind === 'lr-find') && ACTIVE.has(j.state)).sort((a, b) => b.id - a.id)[0];
      if (running) {
        setJob(running);
        setModel(startLive(running.id));
        if (running.kind === 'train') {
          // Updates only flow from now on: the daemon's partial report has the epochs and losses before.
          const partial = await daemon('train.report', { dataset, jobId: running.id });
          const report = partial.running ? partial.report : null;
          if (report) setModel((m) => (m.jobId === report.jobId ? resumeLive(report, m) : m));
        }
      } else {
        await loadReport(dataset);
      }
      setLoaded(true);
    })().catch(fail);
  }, [dataset]);

  useBroadcast(
    (message) => {
      if (message.kind !== 'daemon.event' || !dataset) return;
      const event = message.event;
      if (event.kind === 'train.update') {
        if (job && event.jobId === job.id) setModel((m) => applyUpdate(m.jobId === event.jobId ? m : startLive(event.jobId), event.update));
        return;
      }
      if ((event.kind === 'job.progress' || event.kind === 'job.finished') && job && event.job.id === job.id) {
        setJob(event.job);
        if (event.kind === 'job.finished') {
          if (event.job.state === 'done') loadReport(dataset, event.job.kind === 'train' ? event.job.id : undefined).catch(fail);
          else if (event.job.error) setError(`${event.job.kind} ${event.job.state}: ${event.job.error}`);
        }
      }
    },
    [dataset, job?.id],
  );

  const train = async (): Promise<void> => {
    if (!dataset) return;
    const parsed = parseOptions(form);
    if (!parsed.ok) return setError(parsed.error);
    setError(null);
    localStorage.setItem(OPTIONS_KEY, JSON.stringify(parsed.options));
    try {
      const started = await daemon('train.start', { dataset, options: parsed.options });
      setJob(started.job);
      setModel(startLive(started.job.id));
    } catch (err) {
      fail(err);
    }
  };

  const lrFind = async (): Promise<void> => {
    if (!dataset) return;
    setError(null);
    try {
      const started = await daemon('train.lrFind', { dataset, iterations: Math.max(10, Number(form.lrFindIterations) || 50) });
      setJob(started.job);
      setModel((m) => ({ ...m, jobId: started.job.id, live: true, lrFind: null }));
    } catch (err) {
      fail(err);
    }
  };

  const cancel = async (): Promise<void> => {
    if (job) await daemon('job.cancel', { jobId: job.id }).then((r) => setJob(r.job), fail);
  };

  if (!dataset || !loaded) return <p class="muted">Loading…</p>;
  const busy = job !== null && ACTIVE.has(job.state);
  return (
    <section id="train-view" data-state={busy ? 'running' : (job?.state ?? 'idle')}>
      <details class="options" open={!model.stages.length}>
        <summary>Options — dataset “{dataset}”</summary>
        <div class="options-grid">
          {FIELDS.map((f) => (
            <label key={f.key} title={f.title}>
              {f.label}
              <input id={`opt-${f.key}`} type="text" inputMode="decimal" value={form[f.key]} onInput={(e) => setForm({ ...form, [f.key]: e.currentTarget.value })} />
            </label>
          ))}
          <label title="unfreeze, LR finder, then fit_one_cycle(n, slice(lo, hi)); auto = when the backend can train the body">
            Stage 2
            <select id="opt-stage2" value={form.stage2} onChange={(e) => setForm({ ...form, stage2: e.currentTarget.value })}>
              <option value="auto">auto</option>
              <option value="on">on</option>
              <option value="off">off</option>
            </select>
          </label>
        </div>
      </details>
      <div class="row">
        <button id="train" class="primary" disabled={busy} onClick={() => void train()}>
          Train
        </button>
        <button id="lr-find" disabled={busy} onClick={() => void lrFind()} title="run the LR finder on the current model (frozen body)">
          LR finder
        </button>
        {busy && (
          <button id="cancel" onClick={() => void cancel()}>
            Cancel
          </button>
        )}
      </div>
      {job && (
        <div class="job" data-kind={job.kind} data-state={job.state}>
          <div>
            {job.kind} #{job.id}: {job.state}
            {busy && model.phase ? ` — ${model.phase}` : ''}
            {job.error ? ` — ${job.error}` : ''}
          </div>
          {busy && <progress max={Math.max(1, job.progress.total)} value={job.progress.done} />}
          {busy && model.features && model.features.done < model.features.total && (
            <div class="muted">
              features {model.features.done}/{model.features.total}
            </div>
          )}
        </div>
      )}
      {!model.stages.length && !model.lrFind && !busy && <p class="muted">No training yet for this dataset.</p>}
      {model.summary && (
        <p class="muted" id="train-summary">
          {model.summary.classes.length} classes ({model.summary.classes.join(', ')}), {model.summary.trainImages} train / {model.summary.validImages} valid images,{' '}
          {model.summary.backbone} on {model.summary.backend}.
        </p>
      )}
      {model.final && (
        <p id="final">
          Final: error rate <b>{(model.final.errorRate * 100).toFixed(1)}%</b>, valid loss {model.final.validLoss.toFixed(4)}
        </p>
      )}
      <EpochTable model={model} />
      {model.stage2Skipped && <p class="muted">Stage 2 skipped: {model.stage2Skipped}</p>}
      <Diagnoses model={model} />
      <LrFinderPlot model={model} />
      <LossPlot model={model} />
      {error && (
        <p class="error" id="error">
          {error}
        </p>
      )}
    </section>
  );
}

function EpochTable({ model }: { model: TrainViewModel }) {
  const rows = model.stages.flatMap((s) => s.rows.map((r) => ({ stage: s.name, row: r })));
  if (!rows.length) return null;
  return (
    <>
      <h2>Epochs</h2>
      <table id="epochs" class="epochs">
        <thead>
          <tr>
            <th>stage</th>
            <th>epoch</th>
            <th>train_loss</th>
            <th>valid_loss</th>
            <th>error_rate</th>
            <th>time</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ stage, row }) => (
            <tr key={`${stage}-${row.epoch}`} data-stage={stage} data-epoch={row.epoch}>
              <td>{stage}</td>
              <td>{row.epoch}</td>
              <td>{row.trainLoss.toFixed(4)}</td>
              <td>{row.validLoss.toFixed(4)}</td>
              <td data-col="error_rate">{row.errorRate.toFixed(4)}</td>
              <td>{formatSeconds(row.seconds)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const DIAGNOSIS_TITLES: Record<string, string> = {
  'lr-too-high': 'Learning rate too high',
  'lr-too-low': 'Learning rate too low',
  'too-few-epochs': 'Too few epochs',
  'too-many-epochs': 'Too many epochs',
  ok: 'Looks fine',
};

function Diagnoses({ model }: { model: TrainViewModel }) {
  const stages = model.stages.filter((s) => s.diagnoses.length);
  if (!stages.length) return null;
  return (
    <div id="diagnosis">
      <h2>Diagnosis</h2>
      {stages.map((s) =>
        s.diagnoses.map((d, i) => (
          <p key={`${s.name}-${i}`} class={`diagnosis ${d.kind}`} data-kind={d.kind}>
            <b>
              {s.name}: {DIAGNOSIS_TITLES[d.kind] ?? d.kind}.
            </b>{' '}
            {d.message}
          </p>
        )),
      )}
    </div>
  );
}

/** Loss at `lr` on the swept curve, interpolated in log space, to put the marker on the curve. */
function lossAt(lrs: number[], losses: number[], lr: number): number | undefined {
  for (let i = 1; i < lrs.length; i++) {
    const a = lrs[i - 1]!;
    const b = lrs[i]!;
    if (lr >= a && lr <= b) {
      const t = b === a ? 0 : (Math.log(lr) - Math.log(a)) / (Math.log(b) - Math.log(a));
      return losses[i - 1]! + t * (losses[i]! - losses[i - 1]!);
    }
  }
  return undefined;
}

function LrFinderPlot({ model }: { model: TrainViewModel }) {
  const curve = model.lrFind;
  if (!curve) return null;
  const points = curve.lrs.map((lr, i) => [lr, curve.losses[i]!] as [number, number]).filter(([lr, l]) => lr > 0 && Number.isFinite(l));
  const sorted = points.map(([, l]) => l).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  // The sweep ends by blowing up; clipping there keeps the useful part readable (fastai skips the end instead).
  const yMax = median !== undefined && sorted.at(-1)! > 4 * median ? 4 * median : undefined;
  const suggested = curve.suggestedLr;
  return (
    <div id="lr-finder" data-suggested={suggested ?? ''} data-points={points.length}>
      <h2>
        LR finder{curve.unfrozen ? ' (body unfrozen)' : ''}
        {suggested !== null && <span id="lr-suggestion"> — suggestion {formatLr(suggested)}</span>}
      </h2>
      <LineChart
        id="lr-finder-plot"
        logX
        series={[{ points, color: '#1565c0' }]}
        markers={suggested !== null ? [{ x: suggested, y: lossAt(curve.lrs, curve.losses, suggested), label: `suggested ${formatLr(suggested)}` }] : []}
        xLabel="learning rate (log scale)"
        yLabel="loss"
        {...(yMax !== undefined ? { yMax } : {})}
      />
      {curve.rule && <p class="muted chart-note">Suggestion: {curve.rule}.</p>}
    </div>
  );
}

function LossPlot({ model }: { model: TrainViewModel }) {
  if (!model.stages.some((s) => s.losses.length)) return null;
  const { train, valid, dividers } = lossCurves(model.stages);
  return (
    <div id="loss-curves" data-points={train.length}>
      <h2>Losses</h2>
      <LineChart
        id="loss-plot"
        series={[
          { points: train, color: '#1565c0', label: 'train (smoothed)' },
          { points: valid, color: '#ef6c00', label: 'valid', width: 2 },
        ]}
        dividers={dividers}
        xLabel="batches processed"
        yLabel="loss"
      />
    </div>
  );
}
