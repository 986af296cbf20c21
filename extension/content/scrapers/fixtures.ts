/** Loads the fixture search pages (tests/fixtures/serp) into a happy-dom window for scraper tests. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Window as HappyWindow } from 'happy-dom';

export const FIXTURE_ORIGIN = 'http://127.0.0.1:4567';
const FIXTURES = resolve(import.meta.dirname, '..', '..', '..', 'tests', 'fixtures', 'serp');

export function fixtureText(path: string): string {
  return readFileSync(resolve(FIXTURES, path), 'utf8').replaceAll('{{ORIGIN}}', FIXTURE_ORIGIN);
}

export function pageFromHtml(html: string, url: string): Window {
  const win = new HappyWindow({
    url,
    settings: { disableJavaScriptEvaluation: true, disableJavaScriptFileLoading: true, disableCSSFileLoading: true, disableIframePageLoading: true },
  });
  win.document.write(html);
  return win as unknown as Window;
}

export function fixturePage(path: string, url: string): Window {
  return pageFromHtml(fixtureText(path), url);
}
