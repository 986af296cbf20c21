// @vitest-environment happy-dom
import { h, render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InterpretationView } from '../../shared/protocol.ts';

const daemon = vi.hoisted(() => vi.fn());
vi.mock('../ask.ts', () => ({ ask: async () => ({ settings: null, dataset: 'bears' }), daemon }));
vi.mock('../ui/hooks.ts', () => ({ useBroadcast: () => {} }));

const { ReviewView } = await import('./ReviewView.tsx');

const VIEW: InterpretationView = {
  jobId: 1,
  modelId: 1,
  stale: false,
  classes: ['black', 'grizzly'],
  split: 'valid',
  count: 1,
  confusion: [
    [0, 1],
    [0, 0],
  ],
  mostConfused: [],
  total: 1,
  topLosses: [{ imageId: 7, split: 'valid', url: 'https://x.test/7.jpg', actual: 'black', predicted: 'grizzly', loss: 2, probActual: 0.1, probPredicted: 0.9, reviewed: false }],
};

const settle = () => act(() => new Promise<void>((r) => setTimeout(r, 0)));
const gridRequests = () => daemon.mock.calls.filter(([type]) => type === 'interpret.get').map(([, params]) => params as { hideReviewed: boolean });

describe('ReviewView keyboard', () => {
  const root = document.createElement('div');
  afterEach(() => render(null, root));

  it('reloads the grid with the filter of the moment, not the one when the keys were bound', async () => {
    daemon.mockImplementation(async (type: string) => {
      if (type === 'interpret.get') return VIEW;
      if (type === 'job.list') return { jobs: [] };
      if (type === 'images.thumbnails') return { thumbnails: [] };
      return {};
    });
    document.body.append(root);
    await act(() => render(h(ReviewView, {}), root));
    await settle();
    expect(gridRequests().at(-1)?.hideReviewed).toBe(false);

    const hide = root.querySelector<HTMLInputElement>('#hide-reviewed')!;
    hide.checked = true;
    await act(() => void hide.dispatchEvent(new Event('change', { bubbles: true })));
    await settle();
    expect(gridRequests().at(-1)?.hideReviewed).toBe(true);

    // "o" marks the selected image OK, then reloads the grid.
    await act(() => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'o', bubbles: true })));
    await settle();
    expect(daemon).toHaveBeenCalledWith('images.review', { dataset: 'bears', ids: [7] });
    expect(gridRequests().at(-1)?.hideReviewed).toBe(true);
  });
});
