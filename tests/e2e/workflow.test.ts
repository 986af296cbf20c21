/**
 * The whole lesson-2 workflow in a real Chromium with the built extension and the real
 * daemon (a tiny backbone instead of the ImageNet one): collect three classes from the
 * fixture results pages of Google, Bing and DuckDuckGo → download → train from the popup
 * (epoch table, LR finder, loss curves, diagnosis) → interpret (confusion matrix, top
 * losses) → clean from the grid (click and keyboard, undo) → the overlay labels a page's
 * images where it is switched on, and leaves other sites alone.
 *
 * Screenshots of each popup view and of the overlaid page go to artifacts/.
 */
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TeddyClient } from '../../shared/client.ts';
import { startDaemonProcess, tempDataDir, waitFor, waitForJob, type DaemonProcess } from '../helpers/daemonProcess.ts';
import { ARTIFACTS_DIR, chromiumAvailable, collectWithPanel, launchWithExtension, pairThroughOptions, type ExtensionBrowser } from './browser.ts';
import { SHAPES, startFixtureServer, type FixtureServer } from './fixtureServer.ts';
import { TINY_BACKBONE } from '../helpers/tinyBackbone.ts';

const OVERLAY = '#teddy-prediction-overlay';
const DATASET = 'default';

/** Each engine's fixture results page, and how many results it has in all (asking for exactly that spares the wait for more). */
const ENGINE_PAGES = {
  google: { path: (q: string) => `/serp/google/search?q=${q}&udm=2`, results: 10 },
  bing: { path: (q: string) => `/serp/bing/images/search?q=${q}`, results: 9 },
  duckduckgo: { path: (q: string) => `/serp/duckduckgo/?q=${q}&iax=images&ia=images`, results: 9 },
};

const timings: Record<string, number> = {};
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = (Date.now() - started) / 1000;
  }
}

describe.skipIf(!chromiumAvailable)('the lesson-2 workflow from the browser', () => {
  let daemon: DaemonProcess;
  let ext: ExtensionBrowser;
  let web: FixtureServer;
  let client: TeddyClient;
  let popup: Page;

  beforeAll(async () => {
    [daemon, ext, web] = await Promise.all([
      startDaemonProcess(tempDataDir(), { TEDDY_MODEL_DIR: inject('tinyModelDir'), TEDDY_BACKBONE: TINY_BACKBONE }),
      launchWithExtension(),
      startFixtureServer({ shapesDir: inject('shapesDir') }),
    ]);
    client = await daemon.client();
    await pairThroughOptions(ext, daemon.port, daemon.token);
  });
  afterAll(async () => {
    console.log('workflow timings (s):', JSON.stringify(timings));
    client?.close();
    await ext?.close();
    await daemon?.stop();
    await web?.close();
  });

  async function openPopup(): Promise<Page> {
    const page = await ext.openExtensionPage('popup.html');
    await page.setViewport({ width: 440, height: 700 });
    await page.waitForSelector('#state[data-status="connected"]', { timeout: 60_000 });
    return page;
  }

  async function collect(page: Page, className: string, isNew: boolean, count: number): Promise<number> {
    const panel = await collectWithPanel(page, { className, isNew, count });
    expect(panel.error).toBeNull();
    expect(panel.state).toBe('done');
    return panel.added;
  }

  it('collects three classes from the three engines and downloads them from the popup', async () => {
    await timed('collect', async () => {
      const page = await ext.browser.newPage();
      await page.setViewport({ width: 1100, height: 800 });
      for (const shape of SHAPES) {
        let first = true;
        for (const [engine, { path, results }] of Object.entries(ENGINE_PAGES)) {
          await page.goto(`${web.origin}${path(shape)}`);
          expect(await collect(page, shape, first, results), `${shape} from ${engine}`).toBe(results);
          first = false;
        }
      }
      await page.close();
    });
    const stats = await client.request('dataset.stats', { dataset: DATASET });
    expect(stats.classes.map((c) => [c.name, c.pending])).toEqual(SHAPES.map((s) => [s, 28]));

    popup = await openPopup();
    await timed('download', async () => {
      await popup.waitForSelector('#stats tr[data-class="disc"]', { timeout: 60_000 });
      await popup.click('#download');
      await popup.waitForSelector('.job[data-kind="download"][data-state="done"]', { timeout: 120_000 });
      await popup.waitForFunction(() => document.querySelector('#stats tr[data-class="disc"] td[data-col="pending"]')?.textContent === '0', { timeout: 30_000 });
    });
    const ok = await client.request('images.list', { dataset: DATASET, status: 'ok', limit: 1000 });
    expect(ok.total).toBe(84);
    await popup.screenshot({ path: join(ARTIFACTS_DIR, 'popup-dataset-shapes.png'), fullPage: true });
  });

  it('trains from the Train view: epoch table, LR finder with its suggestion, loss curves, diagnosis', async () => {
    await popup.click('#tab-train');
    await popup.waitForSelector('#train-view');
    const set = async (field: string, value: string): Promise<void> => {
      await popup.$eval(`#opt-${field}`, (el) => ((el as HTMLInputElement).value = ''));
      await popup.type(`#opt-${field}`, value);
    };
    await set('stage1Epochs', '4');
    await set('stage1Lr', '3e-3');
    await popup.select('#opt-stage2', 'on');
    await set('stage2Epochs', '1');
    await set('lrFindIterations', '20');
    await set('augmentDraws', '2');
    await set('batchSize', '8');
    await timed('train', async () => {
      await popup.click('#train');
      // Rows appear while it runs; the view settles on the saved report.
      await popup.waitForSelector('#epochs tr[data-stage="stage-1"]', { timeout: 120_000 });
      await popup.waitForSelector('#train-view[data-state="done"] #final', { timeout: 180_000 });
    });
    const rows = await popup.$$eval('#epochs tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-stage'), Number(tr.getAttribute('data-epoch'))]));
    expect(rows).toEqual([
      ['stage-1', 0],
      ['stage-1', 1],
      ['stage-1', 2],
      ['stage-1', 3],
      ['stage-2', 0],
    ]);
    const lrFinder = await popup.$eval('#lr-finder', (el) => ({
      suggested: Number(el.getAttribute('data-suggested')),
      points: Number(el.getAttribute('data-points')),
      marker: el.querySelector('#lr-finder-plot .marker') !== null,
      path: el.querySelector('#lr-finder-plot path')?.getAttribute('d')?.length ?? 0,
    }));
    expect(lrFinder.suggested).toBeGreaterThan(0);
    expect(lrFinder.points).toBeGreaterThan(5);
    expect(lrFinder.marker).toBe(true);
    expect(lrFinder.path).toBeGreaterThan(50);
    expect(await popup.$eval('#loss-curves', (el) => Number(el.getAttribute('data-points')))).toBeGreaterThan(5);
    expect(await popup.$$eval('#diagnosis .diagnosis', (ps) => ps.length)).toBeGreaterThan(0);
    const { report } = await client.request('train.report', { dataset: DATASET });
    expect(report!.classes).toEqual([...SHAPES]);
    expect(report!.final!.errorRate).toBeLessThan(0.35);
    await popup.screenshot({ path: join(ARTIFACTS_DIR, 'popup-train.png'), fullPage: true });
  });

  it('interprets from the Review view: confusion matrix, clickable cells, top losses', async () => {
    await popup.click('#tab-review');
    await popup.waitForSelector('#review-view');
    await timed('interpret', async () => {
      await popup.click('#interpret');
      await popup.waitForSelector('#confusion button.cell', { timeout: 120_000 });
      await popup.waitForSelector('#top-losses .tile img', { timeout: 60_000 });
    });
    const cells = await popup.$$eval('#confusion button.cell', (bs) =>
      bs.map((b) => ({ actual: b.getAttribute('data-actual')!, predicted: b.getAttribute('data-predicted')!, count: Number(b.getAttribute('data-count')) })),
    );
    const valid = await client.request('images.list', { dataset: DATASET, status: 'ok', split: 'valid', limit: 1000 });
    expect(cells.reduce((sum, c) => sum + c.count, 0)).toBe(valid.total);
    // The grid is the top losses: highest loss first.
    const losses = await popup.$$eval('#top-losses .tile', (tiles) => tiles.map((t) => t.getAttribute('data-image-id')));
    const view = await client.request('interpret.get', { dataset: DATASET, limit: 9 });
    expect(losses).toEqual(view.topLosses.map((i) => String(i.imageId)));
    await popup.screenshot({ path: join(ARTIFACTS_DIR, 'popup-review.png'), fullPage: true });

    // A cell click shows just those images: a mistake if there is one, else the fullest cell.
    const pick = cells.filter((c) => c.count > 0).sort((a, b) => Number(b.actual !== b.predicted) - Number(a.actual !== a.predicted) || b.count - a.count)[0]!;
    await popup.click(`#confusion button.cell[data-actual="${pick.actual}"][data-predicted="${pick.predicted}"]`);
    await popup.waitForSelector(`#confusion button.cell.picked[data-actual="${pick.actual}"][data-predicted="${pick.predicted}"]`);
    await popup.waitForFunction((n) => document.querySelector('#top-losses')?.getAttribute('data-total') === String(n), { timeout: 30_000 }, pick.count);
    const shown = await popup.$$eval('#top-losses .tile', (tiles) => tiles.map((t) => [t.getAttribute('data-actual'), t.getAttribute('data-predicted')]));
    expect(shown.length).toBe(Math.min(9, pick.count));
    for (const pair of shown) expect(pair).toEqual([pick.actual, pick.predicted]);
    await popup.screenshot({ path: join(ARTIFACTS_DIR, 'popup-review-cell.png'), fullPage: true });
    await popup.click('#show-all');
    await popup.waitForFunction(() => document.querySelector('#top-losses')?.getAttribute('data-total') !== null && !document.querySelector('#show-all'));
  });

  it('cleans from the top-losses grid: delete by click, delete and undo by keyboard, OK', async () => {
    const status = async (id: number) => (await client.request('images.list', { dataset: DATASET, limit: 1000 })).images.find((i) => i.id === id)!;
    const tileIds = () => popup.$$eval('#top-losses .tile', (tiles) => tiles.map((t) => Number(t.getAttribute('data-image-id'))));

    // Click: the worst image goes to the trash and leaves the grid.
    const [worst] = await tileIds();
    await popup.click(`#top-losses .tile[data-image-id="${worst}"] button.delete`);
    await popup.waitForFunction((id) => !document.querySelector(`#top-losses .tile[data-image-id="${id}"]`), { timeout: 30_000 }, worst);
    expect((await status(worst!)).status).toBe('trashed');
    const trashed = (await client.request('dataset.stats', { dataset: DATASET })).classes.reduce((n, c) => n + c.trashed, 0);
    expect(trashed).toBe(1);

    // Keyboard: move to the second tile, d deletes it, u brings it back, o marks it OK.
    const ids = await tileIds();
    const second = ids[1]!;
    await popup.click(`#top-losses .tile[data-image-id="${ids[0]}"] .caption`);
    await popup.keyboard.press('j');
    await popup.waitForSelector(`#top-losses .tile.selected[data-image-id="${second}"]`);
    await popup.keyboard.press('d');
    await waitFor(() => status(second), (i) => i.status === 'trashed', 30_000);
    await popup.waitForFunction((id) => !document.querySelector(`#top-losses .tile[data-image-id="${id}"]`), { timeout: 30_000 }, second);
    await popup.keyboard.press('u');
    await waitFor(() => status(second), (i) => i.status === 'ok', 30_000);
    await popup.waitForSelector(`#top-losses .tile[data-image-id="${second}"]`, { timeout: 30_000 });
    await popup.click(`#top-losses .tile[data-image-id="${second}"] .caption`);
    await popup.keyboard.press('o');
    await waitFor(() => status(second), (i) => i.reviewed, 30_000);
    await popup.waitForSelector(`#top-losses .tile.reviewed[data-image-id="${second}"]`, { timeout: 30_000 });
    expect((await status(worst!)).status).toBe('trashed');
    await popup.screenshot({ path: join(ARTIFACTS_DIR, 'popup-review-cleaned.png'), fullPage: true });

    // 1–9 relabel to that class (disc is 1), u takes it back; n / p page through.
    const notDisc = await popup.$eval('#top-losses .tile:not([data-actual="disc"])', (t) => Number(t.getAttribute('data-image-id')));
    const before = (await status(notDisc)).className;
    await popup.click(`#top-losses .tile[data-image-id="${notDisc}"] .caption`);
    await popup.keyboard.press('1');
    await waitFor(() => status(notDisc), (i) => i.className === 'disc', 30_000);
    await popup.waitForSelector(`#top-losses .tile[data-image-id="${notDisc}"][data-actual="disc"]`, { timeout: 30_000 });
    await popup.keyboard.press('u');
    await waitFor(() => status(notDisc), (i) => i.className === before, 30_000);
    await popup.keyboard.press('n');
    await popup.waitForFunction(() => document.querySelector('#top-losses')?.getAttribute('data-page') === '1', { timeout: 30_000 });
    expect(await popup.$eval('#page-info', (el) => el.textContent)).toMatch(/^page 2 of \d+/);
    await popup.keyboard.press('p');
    await popup.waitForFunction(() => document.querySelector('#top-losses')?.getAttribute('data-page') === '0', { timeout: 30_000 });
  });

  it('overlays predictions on a page where it is switched on, and nowhere else', async () => {
    const page = await ext.browser.newPage();
    await page.setViewport({ width: 1000, height: 700 });
    await page.goto(`${web.origin}/pages/shapes.html`, { waitUntil: 'load' });
    // Off by default: nothing added to the page.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await page.$(OVERLAY)).toBeNull();
    const boxes = () =>
      page.$$eval('body *', (els) =>
        els.map((el) => {
          const r = el.getBoundingClientRect();
          return `${el.tagName}#${el.id}:${r.x},${r.y},${r.width},${r.height}`;
        }),
      );
    const before = await boxes();

    // Switch it on for this site from the popup, as a user would.
    const toggle = await openPopup();
    await toggle.waitForSelector('#overlay-toggle[data-site="127.0.0.1"]', { timeout: 30_000 });
    await toggle.click('#overlay-toggle');
    await waitFor(() => ext.worker.evaluate(() => chrome.storage.local.get('teddy.overlay.sites')), (v) => JSON.stringify(v).includes('127.0.0.1'), 10_000);
    await toggle.waitForSelector('#overlay-toggle:checked');
    await toggle.screenshot({ path: join(ARTIFACTS_DIR, 'popup-overlay-switch.png') });
    await toggle.close();
    await page.bringToFront();

    const badges = () =>
      page.$$eval(OVERLAY, (hosts) =>
        hosts.flatMap((h) => [...h.shadowRoot!.querySelectorAll<HTMLElement>('.badge')].map((b) => ({ url: b.dataset.url!, cls: b.dataset.class!, text: b.textContent! }))),
      );
    await timed('overlay', () => waitFor(badges, (b) => b.length >= 4, 60_000));
    const kindOf = (url: string) => /\/shape\/(\w+)\//.exec(url)?.[1];
    const shown = await badges();
    expect(shown.map((b) => kindOf(b.url)).sort()).toEqual(['disc', 'disc', 'square', 'stripes']);
    for (const badge of shown) expect(badge.cls, badge.url).toBe(kindOf(badge.url));
    expect(shown.some((b) => b.url.endsWith('/icon.png'))).toBe(false);
    // The page's own elements did not move or resize.
    expect(await boxes()).toEqual(before);

    // Badges sit on their images.
    const placement = await page.evaluate((sel) => {
      const host = document.querySelector(sel)!;
      return [...host.shadowRoot!.querySelectorAll<HTMLElement>('.badge')].map((b) => {
        const img = [...document.images].find((i) => i.currentSrc === b.dataset.url)!;
        const ir = img.getBoundingClientRect();
        const br = b.getBoundingClientRect();
        return br.left >= ir.left && br.top >= ir.top && br.left < ir.right && br.top < ir.bottom;
      });
    }, OVERLAY);
    expect(placement.every(Boolean)).toBe(true);

    // An image added later gets its badge too.
    await page.evaluate(() => (window as unknown as { addLateImage(): void }).addLateImage());
    await waitFor(badges, (b) => b.some((x) => x.url.includes('/shape/stripes/page-2.jpg')), 30_000);
    expect((await badges()).find((x) => x.url.includes('/shape/stripes/page-2.jpg'))!.cls).toBe('stripes');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'overlay-page.png'), fullPage: true });

    // A retrain while the page is open: the daemon's model.ready makes the overlay ask again, and the badges in view are rewritten.
    const rewritten = 'teddyRewrittenBadges';
    await page.evaluate(
      (sel, key) => {
        const seen = new Set<string>();
        (window as unknown as Record<string, Set<string>>)[key] = seen;
        new MutationObserver((records) => {
          for (const r of records) if (r.target instanceof HTMLElement && r.target.classList.contains('badge')) seen.add(r.target.dataset.url!);
        }).observe(document.querySelector(sel)!.shadowRoot!, { childList: true, subtree: true });
      },
      OVERLAY,
      rewritten,
    );
    const shownBefore = (await badges()).length;
    const { job: retrain } = await client.request('train.start', { dataset: DATASET, options: { stage1Epochs: 1, stage2: 'off' } });
    expect((await waitForJob(client, retrain.id, 120_000)).state).toBe('done');
    await timed('overlay refresh', () =>
      waitFor(() => page.evaluate((key) => (window as unknown as Record<string, Set<string>>)[key]!.size, rewritten), (n) => n >= 4, 30_000),
    );
    expect((await badges()).length).toBe(shownBefore);

    // Another site, where it is off: untouched.
    const other = await ext.browser.newPage();
    await other.setViewport({ width: 1000, height: 700 });
    await other.goto(`${web.origin.replace('127.0.0.1', 'localhost')}/pages/shapes.html`, { waitUntil: 'load' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await other.$(OVERLAY)).toBeNull();
    await other.screenshot({ path: join(ARTIFACTS_DIR, 'overlay-off-site.png') });
    await other.close();

    // Switched off again: the page is back to what it was.
    await ext.worker.evaluate(() => chrome.storage.local.set({ 'teddy.overlay.sites': [] }));
    await page.waitForFunction((sel) => !document.querySelector(sel), { timeout: 10_000 }, OVERLAY);
    await page.close();
  });
});
