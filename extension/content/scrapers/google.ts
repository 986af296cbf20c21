/**
 * Google Images — the most fragile parser, so it stays small and lives alone.
 *
 * Result tiles only hold base64 or `encrypted-tbn` thumbnails. The originals are in
 * inline script data (and in the responses of the requests that load more results
 * while scrolling, which `../google-tap.ts` passes over from the page's world), where
 * each result is written as
 *
 *     ["https://encrypted-tbn0.gstatic.com/images?q=tbn:…",183,275],["https://original.jpg",1200,1800]
 *
 * followed, a little later in the same record, by its page metadata
 *
 *     "2003":[null,"<doc id>","https://source.page/…","<title>",…]
 *
 * Strings are JSON-escaped (`\u003d` for `=`); in the XHR responses once more.
 * Without JavaScript Google serves a basic page whose tiles hold only
 * `encrypted-tbn` thumbnails and `/url?q=<source page>` links: that is detected,
 * reported, and the thumbnails are offered as a fallback.
 */
import { GOOGLE_DATA_EVENT } from '../google-event.ts';
import { scrollingSource } from './scrolling.ts';
import type { OpenOptions, PageProblem, ScrapedImage, Scraper } from './types.ts';

const PAIR = /\["(https:\/\/encrypted-tbn\d\.gstatic\.com\/images\?[^"]+)",\d+,\d+\],\["(https?:\/\/[^"]+)",\d+,\d+\]/g;
const SOURCE = /"2003":\[null,"[^"]*","(https?:\/\/[^"]+)"/;

function unescapeJsonString(raw: string): string | null {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return null;
  }
}

/** Undoes the extra escaping level of data that arrives inside a JSON string (the XHR responses). */
function unwrapOneLevel(text: string): string {
  return text.includes('\\"') ? text.replaceAll('\\\\', '\\').replaceAll('\\"', '"') : text;
}

/** Results from one blob of Google's data (an inline script, or a response). */
export function parseGoogleData(text: string): ScrapedImage[] {
  const data = unwrapOneLevel(text);
  const matches = Array.from(data.matchAll(PAIR));
  const images: ScrapedImage[] = [];
  matches.forEach((match, i) => {
    const thumbnail = unescapeJsonString(match[1]!);
    const url = unescapeJsonString(match[2]!);
    if (!url || !thumbnail) return;
    // The page metadata belongs to this record only if it comes before the next record starts.
    const end = matches[i + 1]?.index ?? data.length;
    const start = match.index + match[0].length;
    const source = SOURCE.exec(data.slice(start, Math.min(end, start + 20_000)));
    images.push({ url, thumbnail, sourcePage: source ? unescapeJsonString(source[1]!) : null });
  });
  return images;
}

function inlineScripts(doc: Document): string[] {
  return Array.from(doc.querySelectorAll('script:not([src])'), (s) => s.textContent ?? '');
}

/** Only data with thumbnails holds results: the rest is not worth a regex pass. */
function parseBlob(text: string): ScrapedImage[] {
  return text.includes('encrypted-tbn') ? parseGoogleData(text) : [];
}

function withoutRepeats(lists: readonly ScrapedImage[][]): ScrapedImage[] {
  const seen = new Set<string>();
  const images: ScrapedImage[] = [];
  for (const list of lists) {
    for (const image of list) {
      if (seen.has(image.url)) continue;
      seen.add(image.url);
      images.push(image);
    }
  }
  return images;
}

/** Everything known so far: inline data first, then the data of later loads, in order, without repeats. */
export function parseGoogle(doc: Document, responses: readonly string[] = []): ScrapedImage[] {
  return withoutRepeats([...inlineScripts(doc), ...responses].map(parseBlob));
}

/**
 * `parseGoogle` for a source that polls the page every 150 ms while it grows: an inline
 * script is parsed again only when its text changed, and `responses` (which only ever
 * grows) only from where the last call stopped, so the result is always what
 * `parseGoogle` would give, without re-running the regexes over megabytes each poll.
 */
function googleReader(doc: Document, responses: readonly string[]): () => ScrapedImage[] {
  const scripts = new WeakMap<Element, { text: string; images: ScrapedImage[] }>();
  const loaded: ScrapedImage[][] = [];
  return () => {
    const inline = Array.from(doc.querySelectorAll('script:not([src])'), (script) => {
      const text = script.textContent ?? '';
      let entry = scripts.get(script);
      if (entry?.text !== text) {
        entry = { text, images: parseBlob(text) };
        scripts.set(script, entry);
      }
      return entry.images;
    });
    for (let i = loaded.length; i < responses.length; i++) loaded.push(parseBlob(responses[i]!));
    return withoutRepeats([...inline, ...loaded]);
  };
}

/** The basic (script-less) page: thumbnails linked to their source pages through `/url?q=`. */
export function parseGoogleBasic(doc: Document): ScrapedImage[] {
  const images: ScrapedImage[] = [];
  const seen = new Set<string>();
  for (const img of Array.from(doc.querySelectorAll<HTMLImageElement>('img[src*="encrypted-tbn"]'))) {
    const thumbnail = img.getAttribute('src')!;
    if (seen.has(thumbnail)) continue;
    seen.add(thumbnail);
    const link = img.closest('a')?.getAttribute('href') ?? null;
    let sourcePage: string | null = null;
    if (link) {
      try {
        const href = new URL(link, doc.baseURI);
        sourcePage = href.pathname === '/url' ? (href.searchParams.get('q') ?? href.searchParams.get('url')) : href.href;
      } catch {
        sourcePage = null;
      }
    }
    images.push({ url: thumbnail, thumbnail, sourcePage });
  }
  return images;
}

export function googleProblem(doc: Document): PageProblem | null {
  const url = doc.location?.href ?? doc.baseURI;
  const text = doc.body?.textContent ?? '';
  if (/consent\.google\./.test(url) || doc.querySelector('form[action*="consent.google"]')) {
    return { kind: 'consent', message: 'Google is asking for cookie consent: answer it, then collect again.', thumbnailsOnly: false };
  }
  if (/\/sorry\//.test(url) || doc.querySelector('#captcha-form, form[action*="/sorry/"], .g-recaptcha')) {
    return { kind: 'captcha', message: 'Google wants a captcha solved: solve it, then collect again.', thumbnailsOnly: false };
  }
  const one = new RegExp(PAIR.source);
  if (inlineScripts(doc).some((s) => one.test(s))) return null;
  if (doc.querySelector('img[src*="encrypted-tbn"]')) {
    return {
      kind: 'basic_html',
      message: 'Google sent its basic page (no original URLs): only thumbnails (~270 px) can be collected here.',
      thumbnailsOnly: true,
    };
  }
  if (/enable javascript|turn on javascript|javascript is disabled/i.test(text) || doc.querySelector('noscript meta[http-equiv="refresh"]')) {
    return { kind: 'no_javascript', message: 'Google sent its "enable JavaScript" page: reload the page.', thumbnailsOnly: false };
  }
  return { kind: 'unrecognised', message: 'No Google image results found on this page (has Google changed its markup?).', thumbnailsOnly: false };
}

/** Data of later loads, captured in the page's world by google-tap.ts and announced by this event. */
export { GOOGLE_DATA_EVENT };

const responses: string[] = [];
let listening = false;

function listen(doc: Document): void {
  if (listening) return;
  listening = true;
  doc.addEventListener(GOOGLE_DATA_EVENT, (e) => {
    const detail = (e as CustomEvent<unknown>).detail;
    if (typeof detail === 'string' && detail.length < 20_000_000) responses.push(detail);
  });
}

export const google: Scraper = {
  engine: 'google',
  problem: googleProblem,
  open(win: Window, options: OpenOptions = {}) {
    listen(win.document);
    const problem = googleProblem(win.document);
    if (problem?.thumbnailsOnly) return scrollingSource(win, { settleMs: 1500, ...options, read: () => parseGoogleBasic(win.document) });
    return scrollingSource(win, {
      ...options,
      read: googleReader(win.document, responses),
      moreButton: () => win.document.querySelector<HTMLElement>('input[type="button"][value*="more" i], a[aria-label*="more results" i]'),
    });
  },
};

/** Starts capturing later loads as soon as the content script runs, before any collecting starts. */
export function startGoogleCapture(doc: Document): void {
  listen(doc);
}
