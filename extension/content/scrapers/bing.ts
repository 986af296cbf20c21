/**
 * Bing Images: every result is an `a.iusc` whose `m` attribute holds JSON with the
 * original (`murl`), the source page (`purl`) and the thumbnail (`turl`).
 */
import { scrollingSource } from './scrolling.ts';
import type { OpenOptions, PageProblem, ScrapedImage, Scraper } from './types.ts';

interface BingMeta {
  murl?: unknown;
  purl?: unknown;
  turl?: unknown;
}

const httpUrl = (value: unknown, base: string): string | null => {
  if (typeof value !== 'string' || !value) return null;
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
};

export function parseBing(doc: Document): ScrapedImage[] {
  const base = doc.baseURI;
  const images: ScrapedImage[] = [];
  for (const anchor of Array.from(doc.querySelectorAll('a.iusc[m]'))) {
    let meta: BingMeta;
    try {
      meta = JSON.parse(anchor.getAttribute('m') ?? '') as BingMeta;
    } catch {
      continue;
    }
    const url = httpUrl(meta.murl, base);
    if (!url) continue;
    images.push({ url, sourcePage: httpUrl(meta.purl, base), thumbnail: httpUrl(meta.turl, base) });
  }
  return images;
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
      read: () => parseBing(win.document),
      moreButton: () => win.document.querySelector<HTMLElement>('a.btn_seemore, .mm_seemore a, input.btn_seemore'),
    });
  },
};
