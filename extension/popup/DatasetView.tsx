/** Datasets and classes with counts, and the download / verify jobs with live progress. */
import { useEffect, useState } from 'preact/hooks';
import type { DatasetStats, Job } from '../../shared/protocol.ts';
import { ask, daemon } from '../ask.ts';
import { errorText } from '../ui/errors.ts';
import { useBroadcast } from '../ui/hooks.ts';
import { ACTIVE } from './jobs.ts';

/** Training and interpretation have their own views. */
const DATASET_JOBS = new Set<Job['kind']>(['download', 'verify', 'import', 'export']);

export function DatasetView() {
  const [datasets, setDatasets] = useState<string[]>([]);
  const [dataset, setDataset] = useState<string | null>(null);
  const [stats, setStats] = useState<DatasetStats | null>(null);
  const [jobs, setJobs] = useState<Map<number, Job>>(new Map());
  const [error, setError] = useState<string | null>(null);

  const fail = (err: unknown): void => setError(errorText(err));

  const refresh = async (name: string): Promise<void> => {
    const [list, s, j] = await Promise.all([daemon('dataset.list', {}), daemon('dataset.stats', { dataset: name }), daemon('job.list', { dataset: name })]);
    setDatasets(list.datasets.map((d) => d.name));
    setStats(s);
    // The latest job of each kind is what the user wants to see.
    const latest = new Map<string, Job>();
    for (const job of j.jobs) if (DATASET_JOBS.has(job.kind) && (!latest.has(job.kind) || latest.get(job.kind)!.id < job.id)) latest.set(job.kind, job);
    setJobs(new Map([...latest.values()].map((job) => [job.id, job])));
  };

  useEffect(() => {
    ask({ kind: 'settings.get' })
      .then(({ dataset: current }) => {
        setDataset(current);
        return refresh(current);
      })
      .catch(fail);
  }, []);

  useBroadcast(
    (message) => {
      if (!dataset) return;
      if (message.kind === 'daemon.event' && (message.event.kind === 'job.progress' || message.event.kind === 'job.finished')) {
        const job = message.event.job;
        if (job.dataset !== dataset || !DATASET_JOBS.has(job.kind)) return;
        setJobs((old) => new Map(old).set(job.id, job));
        if (message.event.kind === 'job.finished') refresh(dataset).catch(fail);
      }
      if (message.kind === 'urls.added' && message.dataset === dataset) refresh(dataset).catch(fail);
    },
    [dataset],
  );

  const select = async (name: string): Promise<void> => {
    if (name === '\u0000new') {
      const created = window.prompt('Name of the new dataset');
      if (!created) return;
      name = created.trim();
    }
    try {
      await ask({ kind: 'dataset.select', dataset: name });
      setDataset(name);
      setError(null);
      await refresh(name);
    } catch (err) {
      fail(err);
    }
  };

  const start = async (kind: 'download' | 'verify'): Promise<void> => {
    if (!dataset) return;
    try {
      const { job } = kind === 'download' ? await daemon('job.download', { dataset }) : await daemon('job.verify', { dataset });
      setJobs((old) => new Map([...old].filter(([, j]) => j.kind !== kind)).set(job.id, job));
    } catch (err) {
      fail(err);
    }
  };

  if (!dataset) return <p class="muted">Loading…</p>;
  const busy = [...jobs.values()].some((j) => ACTIVE.has(j.state));
  const totals = stats?.classes.reduce(
    (t, c) => ({ train: t.train + c.train, valid: t.valid + c.valid, pending: t.pending + c.pending, failed: t.failed + c.failed, trashed: t.trashed + c.trashed }),
    { train: 0, valid: 0, pending: 0, failed: 0, trashed: 0 },
  );
  return (
    <section id="dataset-view">
      <div class="row">
        <label for="dataset-select" style={{ margin: 0 }}>
          Dataset
        </label>
        <select id="dataset-select" value={dataset} onChange={(e) => void select(e.currentTarget.value)}>
          {(datasets.includes(dataset) ? datasets : [...datasets, dataset]).map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
          <option value={'\u0000new'}>New dataset…</option>
        </select>
      </div>
      {stats && stats.classes.length === 0 && <p class="muted">No images yet: collect some on an image search page, or right-click an image.</p>}
      {stats && stats.classes.length > 0 && (
        <table id="stats">
          <thead>
            <tr>
              <th>Class</th>
              <th title="downloaded and verified, training split">train</th>
              <th title="validation split (20%)">valid</th>
              <th title="not downloaded yet">pending</th>
              <th>failed</th>
              <th>trashed</th>
            </tr>
          </thead>
          <tbody>
            {stats.classes.map((c) => (
              <tr key={c.name} data-class={c.name}>
                <td>{c.name}</td>
                <td data-col="train">{c.train}</td>
                <td data-col="valid">{c.valid}</td>
                <td data-col="pending">{c.pending}</td>
                <td data-col="failed">{c.failed}</td>
                <td data-col="trashed">{c.trashed}</td>
              </tr>
            ))}
            {totals && stats.classes.length > 1 && (
              <tr>
                <th>all</th>
                <th>{totals.train}</th>
                <th>{totals.valid}</th>
                <th>{totals.pending}</th>
                <th>{totals.failed}</th>
                <th>{totals.trashed}</th>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {stats && Object.keys(stats.byFailure).length > 0 && (
        <p class="muted" id="failures">
          Failures: {Object.entries(stats.byFailure).map(([reason, n]) => `${reason.replaceAll('_', ' ')} ${n}`).join(', ')} — see <code>teddy failures</code>.
        </p>
      )}
      <div class="row">
        <button id="download" disabled={busy} onClick={() => void start('download')}>
          Download
        </button>
        <button id="verify" disabled={busy} onClick={() => void start('verify')}>
          Verify
        </button>
      </div>
      {[...jobs.values()]
        .sort((a, b) => a.id - b.id)
        .map((job) => (
          <div key={job.id} class="job" data-kind={job.kind} data-state={job.state}>
            <div>
              {job.kind} #{job.id}: {job.state} — {job.progress.done}/{job.progress.total} ({job.progress.ok} ok, {job.progress.failed} failed)
              {job.error ? ` — ${job.error}` : ''}
            </div>
            <progress max={Math.max(1, job.progress.total)} value={job.progress.done} />
          </div>
        ))}
      {error && (
        <p class="error" id="error">
          {error}
        </p>
      )}
    </section>
  );
}
