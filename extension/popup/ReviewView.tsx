/**
 * Interpretation and cleaning: the confusion matrix (a cell click shows those images),
 * the most-confused pairs, and the top losses as a grid where each image can be deleted,
 * relabelled or marked OK — by click or keyboard, with undo. fastai's ImageCleaner loses
 * flagged changes when switching class or split; here every action goes to the daemon at
 * once, so nothing is pending when the filter changes.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { InterpretationItem, InterpretationView, Job, Split } from '../../shared/protocol.ts';
import { daemon } from '../ask.ts';
import { BackgroundError } from '../messages.ts';
import { errorText } from '../ui/errors.ts';
import { useBroadcast } from '../ui/hooks.ts';
import { keyAction, moveSelection, SHORTCUTS } from './reviewKeys.ts';
import { ACTIVE } from './jobs.ts';
import { useDataset } from './useDataset.ts';

const PAGE_SIZE = 9;
const COLUMNS = 3;

interface Cell {
  actual: string;
  predicted: string;
}

export function ReviewView() {
  const [error, setError] = useState<string | null>(null);
  const fail = (err: unknown): void => setError(errorText(err));
  const dataset = useDataset(fail);
  const [split, setSplit] = useState<Split>('valid');
  const [cell, setCell] = useState<Cell | null>(null);
  const [hideReviewed, setHideReviewed] = useState(false);
  const [page, setPage] = useState(0);
  const [view, setView] = useState<InterpretationView | null>(null);
  const [missing, setMissing] = useState(false);
  const [thumbs, setThumbs] = useState<Map<number, string | null>>(new Map());
  const [selected, setSelected] = useState(0);
  const [job, setJob] = useState<Job | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = async (): Promise<void> => {
    if (!dataset) return;
    try {
      const next = await daemon('interpret.get', {
        dataset,
        split,
        hideReviewed,
        limit: PAGE_SIZE,
        offset: page * PAGE_SIZE,
        ...(cell ? { actual: cell.actual, predicted: cell.predicted } : {}),
      });
      if (next.topLosses.length === 0 && page > 0 && next.total > 0) {
        // The last image of the last page went: show the page before.
        setPage(Math.max(0, Math.ceil(next.total / PAGE_SIZE) - 1));
        return;
      }
      setView(next);
      setMissing(false);
      setSelected((s) => moveSelection(s, 0, next.topLosses.length));
      const ids = next.topLosses.map((i) => i.imageId).filter((id) => !thumbs.has(id));
      if (ids.length) {
        const { thumbnails } = await daemon('images.thumbnails', { dataset, ids, size: 160 });
        setThumbs((old) => {
          const map = new Map(old);
          for (const t of thumbnails) map.set(t.id, t.dataUrl);
          return map;
        });
      }
    } catch (err) {
      if (err instanceof BackgroundError && err.code === 'not_found') {
        setView(null);
        setMissing(true);
      } else fail(err);
    }
  };

  useEffect(() => {
    void load();
  }, [dataset, split, cell?.actual, cell?.predicted, hideReviewed, page]);

  useEffect(() => {
    if (!dataset) return;
    daemon('job.list', { dataset }).then(({ jobs }) => {
      const running = jobs.find((j) => j.kind === 'interpret' && ACTIVE.has(j.state));
      if (running) setJob(running);
    }, fail);
  }, [dataset]);

  useBroadcast(
    (message) => {
      if (message.kind !== 'daemon.event') return;
      const event = message.event;
      if ((event.kind === 'job.progress' || event.kind === 'job.finished') && job && event.job.id === job.id) {
        setJob(event.job);
        if (event.kind === 'job.finished') {
          if (event.job.state === 'done') void load();
          else setError(`interpretation ${event.job.state}${event.job.error ? `: ${event.job.error}` : ''}`);
        }
      }
    },
    [job?.id, dataset, split, cell, hideReviewed, page],
  );

  const interpret = async (): Promise<void> => {
    if (!dataset) return;
    setError(null);
    try {
      setJob((await daemon('interpret.run', { dataset })).job);
    } catch (err) {
      fail(err);
    }
  };

  const act = async (kind: 'delete' | 'ok' | 'relabel' | 'undo', item?: InterpretationItem, className?: string): Promise<void> => {
    if (!dataset) return;
    setError(null);
    try {
      if (kind === 'undo') {
        const { undone } = await daemon('images.undo', { dataset });
        setNotice(undone ? `Undone: ${undone.action} of ${undone.images} image${undone.images === 1 ? '' : 's'}.` : 'Nothing to undo.');
      } else if (item) {
        const ids = [item.imageId];
        if (kind === 'delete') await daemon('images.trash', { dataset, ids });
        if (kind === 'ok') await daemon('images.review', { dataset, ids });
        if (kind === 'relabel' && className) await daemon('images.relabel', { dataset, ids, className });
        const what = kind === 'delete' ? 'Deleted' : kind === 'ok' ? 'Kept' : `Relabelled as ${className}:`;
        setNotice(`${what} image #${item.imageId}. Press u to undo.`);
      }
      await load();
    } catch (err) {
      fail(err);
    }
  };

  // The keyboard handler is registered once; it reads the latest state through this, and acts
  // through the latest `act`, whose `load` asks for the grid with the current split, cell,
  // filter and page (an `act` from an earlier render would reload the grid with stale ones).
  const latest = useRef({ view, selected, page, act });
  latest.current = { view, selected, page, act };

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const target = e.target as HTMLElement | null;
      if (e.ctrlKey || e.metaKey || e.altKey || (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName))) return;
      const { view: v, selected: sel, page: pg, act } = latest.current;
      if (!v) return;
      const action = keyAction(e.key, COLUMNS);
      if (!action) return;
      e.preventDefault();
      const item = v.topLosses[sel];
      switch (action.kind) {
        case 'move':
          setSelected(moveSelection(sel, action.by, v.topLosses.length));
          break;
        case 'page': {
          const pages = Math.max(1, Math.ceil(v.total / PAGE_SIZE));
          const next = Math.min(pages - 1, Math.max(0, pg + action.by));
          if (next !== pg) (setPage(next), setSelected(0));
          break;
        }
        case 'delete':
        case 'ok':
          if (item) void act(action.kind, item);
          break;
        case 'relabel': {
          const className = v.classes[action.classIndex];
          if (item && className && className !== item.actual) void act('relabel', item, className);
          break;
        }
        case 'undo':
          void act('undo');
          break;
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [dataset]);

  if (!dataset) return <p class="muted">Loading…</p>;
  const busy = job !== null && ACTIVE.has(job.state);
  const pages = view ? Math.max(1, Math.ceil(view.total / PAGE_SIZE)) : 1;
  return (
    <section id="review-view">
      <div class="row">
        <button id="interpret" class="primary" disabled={busy} onClick={() => void interpret()} title="score every image with the newest model">
          Interpret
        </button>
        <select id="split" value={split} onChange={(e) => (setSplit(e.currentTarget.value as Split), setPage(0), setCell(null))} style={{ flex: 0 }}>
          <option value="valid">validation set</option>
          <option value="train">training set</option>
        </select>
        <label class="inline">
          <input id="hide-reviewed" type="checkbox" checked={hideReviewed} onChange={(e) => (setHideReviewed(e.currentTarget.checked), setPage(0))} /> hide reviewed
        </label>
      </div>
      {job && (
        <div class="job" data-kind={job.kind} data-state={job.state}>
          interpret #{job.id}: {job.state}
          {busy && <progress max={Math.max(1, job.progress.total)} value={job.progress.done} />}
        </div>
      )}
      {missing && <p class="muted">No interpretation yet: train a model, then press Interpret.</p>}
      {view?.stale && <p class="notice">A newer model exists than the one scored here: press Interpret again.</p>}
      {view && <Confusion view={view} cell={cell} onPick={(c) => (setCell(c), setPage(0), setSelected(0))} />}
      {view && view.mostConfused.length > 0 && (
        <p class="muted" id="most-confused">
          Most confused: {view.mostConfused.slice(0, 4).map((m) => `${m.actual} → ${m.predicted} (${m.count})`).join(', ')}
        </p>
      )}
      {view && (
        <>
          <h2>
            Top losses{' '}
            <span class="muted" id="grid-filter">
              {cell ? `— ${cell.actual} predicted as ${cell.predicted}` : `— ${split === 'valid' ? 'validation' : 'training'} set`}
              {cell && (
                <>
                  {' '}
                  <a href="#" id="show-all" onClick={(e) => (e.preventDefault(), setCell(null), setPage(0))}>
                    show all
                  </a>
                </>
              )}
            </span>
          </h2>
          {view.topLosses.length === 0 && <p class="muted">No images here.</p>}
          {view.topLosses.length > 0 && <p class="muted legend">Each: <b>prediction</b> / label · loss · probability of the prediction / of the label</p>}
          <div id="top-losses" class="grid" data-total={view.total} data-page={page}>
            {view.topLosses.map((item, i) => (
              <Tile
                key={item.imageId}
                item={item}
                rank={page * PAGE_SIZE + i + 1}
                thumb={thumbs.get(item.imageId) ?? null}
                selected={i === selected}
                classes={view.classes}
                onSelect={() => setSelected(i)}
                onAct={(kind, className) => void act(kind, item, className)}
              />
            ))}
          </div>
          <div class="row pager">
            <button id="prev-page" disabled={page === 0} onClick={() => (setPage(page - 1), setSelected(0))}>
              ‹ prev
            </button>
            <span id="page-info">
              page {page + 1} of {pages} · {view.total} image{view.total === 1 ? '' : 's'}
            </span>
            <button id="next-page" disabled={page + 1 >= pages} onClick={() => (setPage(page + 1), setSelected(0))}>
              next ›
            </button>
            <button id="undo" onClick={() => void act('undo')}>
              Undo
            </button>
          </div>
          <p class="keys" id="shortcuts">
            {SHORTCUTS.map((s) => (
              <span key={s.keys}>
                <kbd>{s.keys}</kbd> {s.does}
              </span>
            ))}
            {view.classes.slice(0, 9).map((c, i) => (
              <span key={c}>
                <kbd>{i + 1}</kbd> {c}
              </span>
            ))}
          </p>
        </>
      )}
      {notice && (
        <p class="muted" id="notice">
          {notice}
        </p>
      )}
      {error && (
        <p class="error" id="error">
          {error}
        </p>
      )}
    </section>
  );
}

function Confusion({ view, cell, onPick }: { view: InterpretationView; cell: Cell | null; onPick: (cell: Cell | null) => void }) {
  const max = Math.max(1, ...view.confusion.flat());
  return (
    <>
      <h2>Confusion matrix</h2>
      <p class="muted small">
        {view.count} {view.split === 'valid' ? 'validation' : 'training'} images. Click a cell to see its images.
      </p>
      <table id="confusion" class="confusion">
        <thead>
          <tr>
            <th class="corner">actual ↓ predicted →</th>
            {view.classes.map((c) => (
              <th key={c} title={`predicted ${c}`}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {view.classes.map((actual, a) => (
            <tr key={actual}>
              <th>{actual}</th>
              {view.classes.map((predicted, p) => {
                const count = view.confusion[a]?.[p] ?? 0;
                const picked = cell?.actual === actual && cell.predicted === predicted;
                const strength = count / max;
                const colour = a === p ? `rgba(46,125,50,${0.12 + 0.6 * strength})` : count ? `rgba(198,40,40,${0.2 + 0.6 * strength})` : 'transparent';
                return (
                  <td key={predicted}>
                    <button
                      class={`cell${picked ? ' picked' : ''}`}
                      data-actual={actual}
                      data-predicted={predicted}
                      data-count={count}
                      style={{ background: colour }}
                      title={`${count} ${actual} predicted as ${predicted}: show them`}
                      disabled={count === 0}
                      onClick={() => onPick(picked ? null : { actual, predicted })}
                    >
                      {count}
                    </button>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Tile(props: {
  item: InterpretationItem;
  rank: number;
  thumb: string | null;
  selected: boolean;
  classes: string[];
  onSelect: () => void;
  onAct: (kind: 'delete' | 'ok' | 'relabel', className?: string) => void;
}) {
  const { item } = props;
  const wrong = item.actual !== item.predicted;
  return (
    <div
      class={`tile${props.selected ? ' selected' : ''}${wrong ? ' wrong' : ''}${item.reviewed ? ' reviewed' : ''}`}
      data-image-id={item.imageId}
      data-actual={item.actual}
      data-predicted={item.predicted}
      onClick={props.onSelect}
    >
      <div class="thumb">{props.thumb ? <img src={props.thumb} alt={`image #${item.imageId}`} title={item.url} /> : <span class="muted">no preview</span>}</div>
      <div class="caption" title={`loss ${item.loss.toFixed(3)}`}>
        <b>{item.predicted}</b> / {item.actual}
        <br />
        <span class="muted">
          {item.loss.toFixed(2)} · {item.probPredicted.toFixed(2)} / {item.probActual.toFixed(2)}
        </span>
        {item.reviewed && <span class="ok-mark" title="reviewed"> ✓</span>}
      </div>
      <div class="actions">
        <button class="delete" title="delete (d)" onClick={(e) => (e.stopPropagation(), props.onAct('delete'))}>
          Delete
        </button>
        <button class="ok" title="keep as is (o)" onClick={(e) => (e.stopPropagation(), props.onAct('ok'))}>
          OK
        </button>
        <select
          class="relabel"
          title="relabel (1–9)"
          value=""
          onClick={(e) => e.stopPropagation()}
          onChange={(e) => e.currentTarget.value && props.onAct('relabel', e.currentTarget.value)}
        >
          <option value="">→</option>
          {props.classes
            .filter((c) => c !== item.actual)
            .map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
        </select>
      </div>
    </div>
  );
}
