/**
 * The popup: one view per tab — the dataset, training (epoch table, LR finder, loss
 * curves, diagnosis) and review (confusion matrix, top losses, cleaning). Each view is a
 * component using `daemon()` for requests and `useBroadcast` for daemon events.
 */
import { useState } from 'preact/hooks';
import browser from 'webextension-polyfill';
import { describeState, useLinkState } from '../ui/hooks.ts';
import { DatasetView } from './DatasetView.tsx';
import { ReviewView } from './ReviewView.tsx';
import { SiteToggle } from './SiteToggle.tsx';
import { TrainView } from './TrainView.tsx';

interface View {
  id: string;
  title: string;
  component: () => preact.JSX.Element;
}

const VIEWS: View[] = [
  { id: 'dataset', title: 'Dataset', component: DatasetView },
  { id: 'train', title: 'Train', component: TrainView },
  { id: 'review', title: 'Review', component: ReviewView },
];

export function Popup() {
  const state = useLinkState();
  const [view, setView] = useState(VIEWS[0]!.id);
  const Current = VIEWS.find((v) => v.id === view)!.component;
  return (
    <>
      <nav class="tabs" role="tablist">
        {VIEWS.map((v) => (
          <button key={v.id} id={`tab-${v.id}`} role="tab" aria-selected={v.id === view} onClick={() => setView(v.id)}>
            {v.title}
          </button>
        ))}
      </nav>
      <div class="view">
        <div id="state" class={`state ${state?.status ?? ''}`} data-status={state?.status ?? ''}>
          {describeState(state)}{' '}
          {state && state.status !== 'connected' && state.status !== 'connecting' && (
            <a href="#" onClick={(e) => (e.preventDefault(), void browser.runtime.openOptionsPage())}>
              Options
            </a>
          )}
        </div>
        {state?.status === 'connected' && <SiteToggle />}
        {state?.status === 'connected' && <Current />}
      </div>
    </>
  );
}
