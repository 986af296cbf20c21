/** Debian's Chromium with the built extension loaded, driven by puppeteer-core. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page, type WebWorker } from 'puppeteer-core';

export const EXTENSION_ID = 'hndkpdoholldkpljkfpjaahlinjjolbo';
export const EXTENSION_DIR = resolve(import.meta.dirname, '..', '..', 'dist', 'extension-e2e');
export const ARTIFACTS_DIR = resolve(import.meta.dirname, '..', '..', 'artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumAvailable = existsSync(CHROMIUM);

export interface ExtensionBrowser {
  browser: Browser;
  worker: WebWorker;
  /** Opens one of the extension's pages (popup.html, options.html) in a tab. */
  openExtensionPage(path: string): Promise<Page>;
  close(): Promise<void>;
}

export async function launchWithExtension(): Promise<ExtensionBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'teddy-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    enableExtensions: [EXTENSION_DIR],
    userDataDir,
    protocolTimeout: 120_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  const target = await browser.waitForTarget(
    (t) => t.type() === 'service_worker' && t.url().startsWith(`chrome-extension://${EXTENSION_ID}/`),
    { timeout: 60_000 },
  );
  const worker = (await target.worker())!;
  return {
    browser,
    worker,
    async openExtensionPage(path) {
      const page = await browser.newPage();
      await page.goto(`chrome-extension://${EXTENSION_ID}/${path}`, { waitUntil: 'load' });
      return page;
    },
    async close() {
      await browser.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Pairs the extension with a daemon through its options page, as a user would. */
export async function pairThroughOptions(ext: ExtensionBrowser, port: number, token: string): Promise<void> {
  const options = await ext.openExtensionPage('options.html');
  await options.waitForSelector('#state[data-status]');
  await options.type('#token', `teddy://127.0.0.1:${port}/#${token}`);
  await options.click('#pair');
  await options.waitForSelector('#state[data-status="connected"]', { timeout: 60_000 });
  await options.close();
}

/** The collect panel's host element on a results page; its controls live in its shadow root. */
export const PANEL = '#teddy-collect-panel';
export const inPanel = (selector: string): string => `${PANEL} >>> ${selector}`;

export interface PanelResult {
  state: string | null;
  found: number;
  added: number;
  error: string | null;
  status: string | null;
}

/**
 * Uses the collect panel on the open results page as a user would: picks the class (typing a
 * new one, or choosing an existing one once the panel lists it), asks for `count` images and
 * waits for the panel to settle. Returns what the panel shows; the caller judges it.
 */
export async function collectWithPanel(page: Page, { className, isNew, count }: { className: string; isNew: boolean; count: number }): Promise<PanelResult> {
  await page.waitForSelector(inPanel('#class'), { timeout: 60_000 });
  if (isNew) {
    await page.select(inPanel('#class'), '\u0000new');
    await page.type(inPanel('#new-class'), className);
  } else {
    // The panel fills its class list from the daemon after it appears.
    await page.waitForFunction(
      (sel, name) => [...(document.querySelector(sel)?.shadowRoot?.querySelectorAll('#class option') ?? [])].some((o) => o.textContent === name),
      { timeout: 30_000 },
      PANEL,
      className,
    );
    await page.select(inPanel('#class'), className);
  }
  await page.$eval(inPanel('#count'), (el) => ((el as HTMLInputElement).value = ''));
  await page.type(inPanel('#count'), String(count));
  await page.click(inPanel('#collect'));
  await page.waitForFunction(
    (sel) => ['done', 'error'].includes(document.querySelector(sel)?.shadowRoot?.querySelector('.panel')?.getAttribute('data-state') ?? ''),
    { timeout: 90_000 },
    PANEL,
  );
  return page.$eval(PANEL, (host) => {
    const root = host.shadowRoot!;
    const el = root.querySelector('.panel')!;
    return {
      state: el.getAttribute('data-state'),
      found: Number(el.getAttribute('data-found')),
      added: Number(el.getAttribute('data-added')),
      error: root.querySelector('#error')?.textContent ?? null,
      status: root.querySelector('#status')?.textContent ?? null,
    };
  });
}
