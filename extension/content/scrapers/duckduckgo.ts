/**
 * DuckDuckGo: the page's tiles are proxied thumbnails; the results come from its
 * `i.js` JSON endpoint, which needs the `vqd` token embedded in the page and returns
 * `image` (original), `thumbnail` and `url` (source page), plus `next` for paging.
 * The endpoint is on the page's own origin, so the content script can fetch it.
 */
import { z } from 'zod';
import type { PageProblem, ResultSource, ScrapedImage, Scraper } from './types.ts';
import { httpUrl } from './urls.ts';

const DdgResult = z.object({
  image: z.string(),
  thumbnail: z.string().nullish(),
  url: z.string().nullish(),
});
/** The response is someone else's JSON: results that do not fit are skipped, not fatal. */
const DdgResponse = z.object({
  results: z.array(z.unknown()),
  next: z.string().nullish(),
});

export function parseDdgResponse(json: unknown): { images: ScrapedImage[]; next: string | null } {
  const response = DdgResponse.safeParse(json);
  if (!response.success) throw new Error('DuckDuckGo answered with something other than image results');
  const images: ScrapedImage[] = [];
  for (const raw of response.data.results) {
    const result = DdgResult.safeParse(raw);
    if (!result.success) continue;
    const url = httpUrl(result.data.image);
    if (!url) continue;
    images.push({ url, sourcePage: httpUrl(result.data.url), thumbnail: httpUrl(result.data.thumbnail) });
  }
  return { images, next: response.data.next ?? null };
}

/** The page's vqd token, written into an inline script (`vqd="4-…"`) or a hidden input. */
export function findVqd(doc: Document): string | null {
  const input = doc.querySelector<HTMLInputElement>('input[name="vqd"]')?.value;
  if (input) return input;
  for (const script of Array.from(doc.querySelectorAll('script:not([src])'))) {
    const match = /vqd\s*[=:]\s*["']?([0-9]-[0-9a-zA-Z_-]+)/.exec(script.textContent ?? '');
    if (match) return match[1]!;
  }
  const fromHtml = /vqd=["']?([0-9]-[0-9a-zA-Z_-]+)/.exec(doc.documentElement.innerHTML);
  return fromHtml ? fromHtml[1]! : null;
}

function firstPageUrl(win: Window, vqd: string): string {
  const page = new URL(win.location.href);
  const url = new URL('/i.js', page.origin);
  url.searchParams.set('l', page.searchParams.get('kl') ?? 'us-en');
  url.searchParams.set('o', 'json');
  url.searchParams.set('q', page.searchParams.get('q') ?? '');
  url.searchParams.set('vqd', vqd);
  url.searchParams.set('f', ',,,,,');
  url.searchParams.set('p', page.searchParams.get('kp') === '-2' ? '-1' : '1');
  return url.href;
}

export const duckduckgo: Scraper = {
  engine: 'duckduckgo',
  problem(doc: Document): PageProblem | null {
    if (findVqd(doc)) return null;
    return { kind: 'no_token', message: 'This DuckDuckGo page has no search token (vqd): search again from the images tab.', thumbnailsOnly: false };
  },
  open(win: Window): ResultSource {
    const seen = new Set<string>();
    let nextUrl: string | null | undefined;
    return {
      async next() {
        if (nextUrl === null) return { images: [], end: true };
        if (nextUrl === undefined) {
          const vqd = findVqd(win.document);
          if (!vqd) return { images: [], end: true };
          nextUrl = firstPageUrl(win, vqd);
        }
        const response = await win.fetch(nextUrl, { credentials: 'same-origin', headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`DuckDuckGo refused more results (HTTP ${response.status})`);
        const { images, next } = parseDdgResponse(await response.json());
        const vqd = new URL(nextUrl).searchParams.get('vqd');
        // `next` is relative to the site root and may lack the token the endpoint wants.
        if (next) {
          const url = new URL(next, new URL('/', win.location.href));
          if (vqd && !url.searchParams.has('vqd')) url.searchParams.set('vqd', vqd);
          nextUrl = url.href;
        } else {
          nextUrl = null;
        }
        const fresh = images.filter((image) => !seen.has(image.url) && seen.add(image.url));
        return { images: fresh, end: nextUrl === null };
      },
    };
  },
};
