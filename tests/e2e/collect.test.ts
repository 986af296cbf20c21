/**
 * The collecting half of the workflow in a real Chromium with the built extension:
 * pair → collect three classes from the fixture results pages of Google, Bing and
 * DuckDuckGo with the collect panel → download from the popup → the daemon holds the
 * originals with their classes and source pages; the context-menu paths add images too.
 */
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TeddyClient } from '../../shared/client.ts';
import type { Image } from '../../shared/protocol.ts';
import { startDaemonProcess, tempDataDir, waitFor, type DaemonProcess } from '../helpers/daemonProcess.ts';
import {
  ARTIFACTS_DIR,
  chromiumAvailable,
  collectWithPanel,
  launchWithExtension,
  pairThroughOptions,
  type ExtensionBrowser,
  type PanelResult,
} from './browser.ts';
import { startFixtureServer, type FixtureServer } from './fixtureServer.ts';

describe.skipIf(!chromiumAvailable)('collecting from search pages into the daemon', () => {
  let daemon: DaemonProcess;
  let ext: ExtensionBrowser;
  let web: FixtureServer;
  let client: TeddyClient;

  beforeAll(async () => {
    [daemon, ext, web] = await Promise.all([startDaemonProcess(tempDataDir()), launchWithExtension(), startFixtureServer()]);
    client = await daemon.client();
    await pairThroughOptions(ext, daemon.port, daemon.token);
  });
  afterAll(async () => {
    client?.close();
    await ext?.close();
    await daemon?.stop();
    await web?.close();
  });

  async function images(className: string): Promise<Image[]> {
    return (await client.request('images.list', { dataset: 'default', className, limit: 1000 })).images;
  }

  /** Collects into a new class on a results page, screenshotting the settled panel. */
  async function collect(page: Page, className: string, count: number, screenshot: string): Promise<PanelResult> {
    const panel = await collectWithPanel(page, { className, isNew: true, count });
    expect(panel.error).toBeNull();
    expect(panel.state).toBe('done');
    await page.screenshot({ path: join(ARTIFACTS_DIR, screenshot) });
    return panel;
  }

  it('collects originals with their source pages from Google, Bing and DuckDuckGo result pages', async () => {
    const page = await ext.browser.newPage();
    await page.setViewport({ width: 1100, height: 800 });

    // Google: 6 results inline, 4 more only in the response of the request made while scrolling.
    await page.goto(`${web.origin}/serp/google/search?q=teddy+bear&udm=2`);
    expect(await collect(page, 'teddys', 100, 'collect-panel-google.png')).toMatchObject({ found: 10, added: 10 });
    expect(web.hits.get('/serp/google/search')).toBeGreaterThanOrEqual(2);

    // Bing: 5 results on the page; 7 wanted, so it scrolls once for the lazy-loaded ones and stops at 7.
    await page.goto(`${web.origin}/serp/bing/images/search?q=grizzly+bear`);
    expect(await collect(page, 'grizzly', 7, 'collect-panel-bing.png')).toMatchObject({ found: 7, added: 7 });
    expect(web.hits.get('/serp/bing/async')).toBeGreaterThanOrEqual(1);

    // DuckDuckGo: two pages of i.js results, fetched with the page's vqd token.
    await page.goto(`${web.origin}/serp/duckduckgo/?q=black+bear&iax=images&ia=images`);
    expect(await collect(page, 'black', 100, 'collect-panel-duckduckgo.png')).toMatchObject({ found: 9, added: 9 });
    expect(web.hits.get('/i.js')).toBe(2);
    await page.close();

    const expected = { teddys: ['google', 10], grizzly: ['bing', 7], black: ['duckduckgo', 9] } as const;
    for (const [className, [engine, n]] of Object.entries(expected)) {
      const list = await images(className);
      expect(list).toHaveLength(n);
      for (const image of list) {
        // The original, not a thumbnail, with the page it came from.
        const match = new RegExp(`^${web.origin}/img/${engine}-(\\d+)\\.jpg`).exec(image.url);
        expect(match, image.url).not.toBeNull();
        expect(image.sourcePage).toBe(`${web.origin}/pages/${engine}-${match![1]}.html`);
      }
    }
    // Collecting the same page again adds nothing: the daemon ignores known URLs.
    const again = await ext.browser.newPage();
    await again.goto(`${web.origin}/serp/bing/images/search?q=grizzly+bear`);
    const repeat = await collectWithPanel(again, { className: 'grizzly', isNew: false, count: 3 });
    expect(repeat.state).toBe('done');
    expect(repeat.status).toMatch(/added 0, 3 already known/);
    await again.close();
    expect(await images('grizzly')).toHaveLength(7);
  });

  it('downloads from the popup, which shows the classes with their counts and the progress', async () => {
    const popup = await ext.openExtensionPage('popup.html');
    await popup.setViewport({ width: 440, height: 600 });
    await popup.waitForSelector('#stats tr[data-class="teddys"]', { timeout: 60_000 });
    const cell = (cls: string, col: string) => popup.$eval(`#stats tr[data-class="${cls}"] td[data-col="${col}"]`, (td) => Number(td.textContent));
    expect(await cell('teddys', 'pending')).toBe(10);

    await popup.click('#download');
    await popup.waitForSelector('.job[data-kind="download"][data-state="done"]', { timeout: 120_000 });
    await popup.waitForFunction(() => document.querySelector('#stats tr[data-class="teddys"] td[data-col="pending"]')?.textContent === '0', { timeout: 30_000 });
    for (const [cls, n] of [['teddys', 10], ['grizzly', 7], ['black', 9]] as const) {
      expect((await cell(cls, 'train')) + (await cell(cls, 'valid')), cls).toBe(n);
      expect(await cell(cls, 'failed')).toBe(0);
    }
    await popup.click('#verify');
    await popup.waitForSelector('.job[data-kind="verify"][data-state="done"]', { timeout: 120_000 });
    await popup.screenshot({ path: join(ARTIFACTS_DIR, 'popup-dataset.png'), fullPage: true });
    await popup.close();

    const ok = await client.request('images.list', { dataset: 'default', status: 'ok', limit: 1000 });
    expect(ok.total).toBe(26);
  });

  it('adds images from the context menu: one image to a new class, every image of a page to a class', async () => {
    const page = await ext.browser.newPage();
    await page.goto(`${web.origin}/plain/gallery.html`, { waitUntil: 'load' });
    // The content script starts at document_idle through crxjs's loader, a moment after "load".
    await waitFor(
      () =>
        ext.worker.evaluate(async () => {
          const [tab] = await chrome.tabs.query({ active: true });
          return chrome.tabs.sendMessage(tab!.id!, { kind: 'page.images' }).then(
            () => true,
            () => false,
          );
        }),
      (ready) => ready,
      30_000,
    );
    const menuIds = await ext.worker.evaluate(() => (globalThis as unknown as TeddyTest).teddyTest.menu().map((m) => m.id));
    expect(menuIds).toEqual(expect.arrayContaining(['teddy-image:class:black', 'teddy-image:class:grizzly', 'teddy-image:class:teddys', 'teddy-image:new', 'teddy-page:class:grizzly']));

    // "Add image to class ▸ New class…": the page asks for the name.
    page.once('dialog', (dialog) => void dialog.accept('cubs'));
    const cubUrl = `${web.origin}/img/cub-1.jpg`;
    const one = await ext.worker.evaluate(
      async (srcUrl, pageUrl) => {
        const [tab] = await chrome.tabs.query({ active: true });
        return (globalThis as unknown as TeddyTest).teddyTest.onMenuClicked({ menuItemId: 'teddy-image:new', srcUrl, pageUrl }, tab);
      },
      cubUrl,
      `${web.origin}/plain/gallery.html`,
    );
    expect(one).toEqual({ added: 1, duplicates: 0, rejected: 0 });
    expect((await images('cubs')).map((i) => [i.url, i.sourcePage])).toEqual([[cubUrl, `${web.origin}/plain/gallery.html`]]);

    // "Add every image on this page to ▸ grizzly": the tiny icon is skipped, the srcset's largest is taken,
    // and the image already collected from Bing is ignored.
    const all = await ext.worker.evaluate(async (pageUrl) => {
      const [tab] = await chrome.tabs.query({ active: true });
      return (globalThis as unknown as TeddyTest).teddyTest.onMenuClicked({ menuItemId: 'teddy-page:class:grizzly', pageUrl }, tab);
    }, `${web.origin}/plain/gallery.html`);
    expect(all).toEqual({ added: 3, duplicates: 2, rejected: 0 });
    const grizzly = (await images('grizzly')).map((i) => i.url);
    expect(grizzly).toEqual(expect.arrayContaining([1, 2, 3].map((i) => `${web.origin}/img/gallery-${i}.jpg`)));
    expect(grizzly).not.toContain(`${web.origin}/icon.png`);
    expect(grizzly).not.toContain(`${web.origin}/img/thumb-small.jpg`);
    await page.close();
  });
});

interface TeddyTest {
  teddyTest: {
    menu(): { id: string }[];
    onMenuClicked(info: { menuItemId: string; srcUrl?: string; pageUrl: string }, tab: chrome.tabs.Tab | undefined): Promise<unknown>;
  };
}
