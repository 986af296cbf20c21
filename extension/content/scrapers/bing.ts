/**
 * Bing Images: every result is an `a.iusc` whose `m` attribute holds JSON with the
 * original (`murl`), the source page (`purl`) and the thumbnail (`turl`).
 */
import { scrollingSource } from './scrolling.ts';
import type { OpenOptions, PageProblem, ScrapedImage, Scraper } from './types.ts';
import { httpUrl } from './urls.ts';

interface BingMeta {
  murl?: unknown;
  purl?: unknown;
  turl?: unknown;
}

function readAnchor(anchor: Element, base: string): ScrapedImage | null {
  let meta: BingMeta;
  try {
    meta = JSON.parse(anchor.getAttribute('m') ?? '') as BingMeta;
  } catch {
    return null;
  }
  const url = httpUrl(meta.murl, base);
  return url ? { url, sourcePage: httpUrl(meta.purl, base), thumbnail: httpUrl(meta.turl, base) } : null;
}

export function parseBing(doc: Document): ScrapedImage[] {
  const base = doc.baseURI;
  const images: ScrapedImage[] = [];
  for (const anchor of Array.from(doc.querySelectorAll('a.iusc[m]'))) {
    const image = readAnchor(anchor, base);
    if (image) images.push(image);
  }
  return images;
}

/**
 * `parseBing` for a source that polls the page every few hundred ms while it grows:
 * each anchor's JSON is parsed once, and again only if its `m` (or the page's base) changes,
 * so the result is always what `parseBing` would give.
 */
function bingReader(doc: Document): () => ScrapedImage[] {
  const known = new WeakMap<Element, { m: string | null; base: string; image: ScrapedImage | null }>();
  return () => {
    const base = doc.baseURI;
    const images: ScrapedImage[] = [];
    for (const anchor of Array.from(doc.querySelectorAll('a.iusc[m]'))) {
      const m = anchor.getAttribute('m');
      let entry = known.get(anchor);
      if (!entry || entry.m !== m || entry.base !== base) {
        entry = { m, base, image: readAnchor(anchor, base) };
        known.set(anchor, entry);
      }
      if (entry.image) images.push(entry.image);
    }
    return images;
  };
}

export const bing: Scraper = {
  engine: 'bing',
  problem(doc: Document): PageProblem | null {
    if (doc.querySelector('a.iusc[m]') || doc.querySelector('.dgControl, #mmComponent_images_1')) return null;
    if (doc.querySelector('#b_captcha, .b_captcha, iframe[src*="challenge"]')) {
      return { kind: 'captcha', message: 'Bing shows a challenge page: solve it, then collect again.', thumbnailsOnly: false };
    }
    return { kind: 'unrecognised', message: 'No Bing image results found on this page (has Bing changed its markup?).', thumbnailsOnly: false };
  },
  open(win: Window, options: OpenOptions = {}) {
    return scrollingSource(win, {
      ...options,
      read: bingReader(win.document),
      moreButton: () => win.document.querySelector<HTMLElement>('a.btn_seemore, .mm_seemore a, input.btn_seemore'),
    });
  },
};
