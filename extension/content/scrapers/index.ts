/** Which scraper a page gets. The collect panel asks only this. */
import { bing } from './bing.ts';
import { duckduckgo } from './duckduckgo.ts';
import { google } from './google.ts';
import type { Engine, Scraper } from './types.ts';

export const scrapers: Record<Engine, Scraper> = { google, bing, duckduckgo };

/**
 * The engine of a results page, from its URL. `testPages` also accepts the local
 * fixture pages of the browser tests (`http://127.0.0.1:PORT/serp/<engine>/…`); only
 * the e2e build passes it.
 */
export function detectEngine(href: string, testPages = false): Engine | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  const q = url.searchParams;
  if (testPages && url.hostname === '127.0.0.1') {
    const match = /^\/serp\/(google|bing|duckduckgo)\//.exec(url.pathname);
    return match ? (match[1] as Engine) : null;
  }
  if (url.protocol !== 'https:') return null;
  if (/^www\.google\.[a-z]{2,3}(\.[a-z]{2})?$/.test(url.hostname) && url.pathname === '/search') {
    return q.get('tbm') === 'isch' || q.get('udm') === '2' ? 'google' : null;
  }
  if (url.hostname === 'www.bing.com' && url.pathname.startsWith('/images/')) return 'bing';
  if (url.hostname === 'duckduckgo.com' && (q.get('iax') === 'images' || q.get('ia') === 'images')) return 'duckduckgo';
  return null;
}

export function scraperFor(href: string, testPages = false): Scraper | null {
  const engine = detectEngine(href, testPages);
  return engine ? scrapers[engine] : null;
}
