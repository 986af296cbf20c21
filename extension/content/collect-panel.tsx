/**
 * Content feature on search results pages: a small panel to pick or create a class
 * and collect N results (auto-scrolling until N or the end), with a live count.
 * The engine-specific part is the scraper; this file knows only the interface.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Name } from '../../shared/protocol.ts';
import { ask } from '../ask.ts';
import { errorText } from '../ui/errors.ts';
import { startGoogleCapture } from './scrapers/google.ts';
import { scraperFor } from './scrapers/index.ts';
import type { PageProblem, Scraper } from './scrapers/types.ts';
import { adoptStyles } from './shadow.ts';

const ENGINE_NAMES = { google: 'Google Images', bing: 'Bing Images', duckduckgo: 'DuckDuckGo' } as const;
const NEW_CLASS = '\u0000new';

type RunState = 'idle' | 'collecting' | 'done' | 'stopped' | 'error';

interface Progress {
  found: number;
  added: number;
  duplicates: number;
  rejected: number;
}

const STYLE = `
:host { all: initial; }
.panel { position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; width: 270px; background: #fff; color: #222;
  font: 13px/1.4 system-ui, sans-serif; border: 1px solid #bbb; border-radius: 8px; box-shadow: 0 4px 18px rgba(0,0,0,.18); }
header { display: flex; align-items: center; justify-content: space-between; padding: 6px 10px; background: #1565c0; color: #fff;
  border-radius: 8px 8px 0 0; font-weight: 600; }
header button { background: none; border: 0; color: #fff; font-size: 16px; cursor: pointer; padding: 0 4px; }
.body { padding: 8px 10px 10px; }
.row { display: flex; gap: 6px; align-items: center; margin: 6px 0; }
select, input { font: inherit; padding: 3px 5px; border: 1px solid #bbb; border-radius: 4px; min-width: 0; }
select, input[type=text] { flex: 1; }
input[type=number] { width: 70px; }
button.primary { font: inherit; padding: 4px 12px; background: #1565c0; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
button.primary:disabled { background: #90a4ae; cursor: default; }
.status { margin-top: 6px; color: #333; }
.problem { background: #fff3e0; border-left: 3px solid #ef6c00; padding: 4px 6px; margin-bottom: 6px; }
.error { color: #c62828; }
`;

function CollectPanel({ scraper, problem }: { scraper: Scraper; problem: PageProblem | null }) {
  const [open, setOpen] = useState(true);
  const [classes, setClasses] = useState<string[]>([]);
  const [dataset, setDataset] = useState('');
  const [choice, setChoice] = useState('');
  const [newName, setNewName] = useState('');
  const [count, setCount] = useState(100);
  const [state, setState] = useState<RunState>('idle');
  const [progress, setProgress] = useState<Progress>({ found: 0, added: 0, duplicates: 0, rejected: 0 });
  const [error, setError] = useState<string | null>(null);
  const stop = useRef(false);

  const loadClasses = (): void => {
    ask({ kind: 'classes.get' }).then(
      (r) => {
        setClasses(r.classes);
        setDataset(r.dataset);
        setChoice((c) => c || r.classes[0] || NEW_CLASS);
      },
      (err: unknown) => {
        setChoice((c) => c || NEW_CLASS);
        setError(errorText(err));
      },
    );
  };
  useEffect(loadClasses, []);

  const className = choice === NEW_CLASS ? newName : choice;

  const collect = async (): Promise<void> => {
    const name = Name.safeParse(className);
    if (!name.success) {
      setError(`Class name ${name.error.issues[0]?.message ?? 'is not valid'}`);
      return;
    }
    setError(null);
    stop.current = false;
    setState('collecting');
    const total: Progress = { found: 0, added: 0, duplicates: 0, rejected: 0 };
    setProgress({ ...total });
    try {
      const source = scraper.open(window);
      while (!stop.current && total.found < count) {
        const batch = await source.next();
        const take = batch.images.slice(0, count - total.found);
        if (take.length) {
          total.found += take.length;
          setProgress({ ...total });
          const summary = await ask({
            kind: 'collect.add',
            className: name.data,
            items: take.map((image) => ({ url: image.url, sourcePage: image.sourcePage })),
          });
          total.added += summary.added;
          total.duplicates += summary.duplicates;
          total.rejected += summary.rejected;
          setProgress({ ...total });
        }
        if (batch.end) break;
      }
      setState(stop.current ? 'stopped' : 'done');
      if (choice === NEW_CLASS) {
        setChoice(name.data);
        setNewName('');
      }
      loadClasses();
    } catch (err) {
      setError(errorText(err));
      setState('error');
    }
  };

  const running = state === 'collecting';
  return (
    <div class="panel" data-state={state} data-found={progress.found} data-added={progress.added}>
      <header>
        <span>Teddy · {ENGINE_NAMES[scraper.engine]}</span>
        <button type="button" title={open ? 'Minimise' : 'Open'} onClick={() => setOpen(!open)}>
          {open ? '–' : '+'}
        </button>
      </header>
      {open && (
        <div class="body">
          {problem && (
            <div class="problem" id="problem" data-kind={problem.kind}>
              {problem.message}
            </div>
          )}
          <div class="row">
            <select id="class" value={choice} disabled={running} onChange={(e) => setChoice(e.currentTarget.value)} title={`Class in dataset “${dataset}”`}>
              {classes.map((c) => (
                <option value={c} key={c}>
                  {c}
                </option>
              ))}
              <option value={NEW_CLASS}>New class…</option>
            </select>
          </div>
          {choice === NEW_CLASS && (
            <div class="row">
              <input id="new-class" type="text" placeholder="class name, e.g. grizzly" value={newName} disabled={running} onInput={(e) => setNewName(e.currentTarget.value)} />
            </div>
          )}
          <div class="row">
            <label for="count">Collect</label>
            <input id="count" type="number" min={1} max={10000} value={count} disabled={running} onInput={(e) => setCount(Math.max(1, Number(e.currentTarget.value) || 1))} />
            {running ? (
              <button id="stop" class="primary" type="button" onClick={() => (stop.current = true)}>
                Stop
              </button>
            ) : (
              <button id="collect" class="primary" type="button" disabled={!className.trim()} onClick={() => void collect()}>
                Collect
              </button>
            )}
          </div>
          <div class="status" id="status">
            {state === 'idle'
              ? `Up to ${count} images, scrolling for more as needed.`
              : `${running ? 'Collecting… ' : state === 'done' ? 'Done: ' : state === 'stopped' ? 'Stopped: ' : ''}found ${progress.found}, added ${progress.added}` +
                (progress.duplicates ? `, ${progress.duplicates} already known` : '') +
                (progress.rejected ? `, ${progress.rejected} refused` : '')}
          </div>
          {error && (
            <div class="error" id="error">
              {error}
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function mount(): void {
  const scraper = scraperFor(location.href, import.meta.env.MODE === 'e2e');
  if (!scraper || document.getElementById('teddy-collect-panel')) return;
  if (scraper.engine === 'google') startGoogleCapture(document);
  const host = document.createElement('div');
  host.id = 'teddy-collect-panel';
  // A shadow root keeps the page's styles out of the panel and the panel's out of the page.
  const root = host.attachShadow({ mode: 'open' });
  adoptStyles(root, STYLE);
  const container = document.createElement('div');
  root.appendChild(container);
  document.documentElement.appendChild(host);
  render(<CollectPanel scraper={scraper} problem={scraper.problem(document)} />, container);
}

mount();
