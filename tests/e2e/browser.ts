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
