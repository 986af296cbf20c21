/**
 * Results for engines that render them into the page and load more while scrolling
 * (Google, Bing): read what is there, and when nothing new is left, scroll to the
 * bottom (and press the engine's "more results" button) and wait for more.
 */
import type { ResultBatch, ResultSource, ScrapedImage } from './types.ts';

export interface ScrollingOptions {
  /** Every result currently on the page, in page order; repeats are filtered here. */
  read(): ScrapedImage[];
  /** A "show more results" control, if the engine has one and it is visible. */
  moreButton?(): HTMLElement | null;
  /** How long to wait for new results after scrolling before calling it the end. */
  settleMs?: number;
  pollMs?: number;
}

export function scrollingSource(win: Window, options: ScrollingOptions): ResultSource {
  const seen = new Set<string>();
  const settleMs = options.settleMs ?? 5000;
  const pollMs = options.pollMs ?? 150;
  let ended = false;

  const fresh = (): ScrapedImage[] => {
    const out: ScrapedImage[] = [];
    for (const image of options.read()) {
      if (seen.has(image.url)) continue;
      seen.add(image.url);
      out.push(image);
    }
    return out;
  };

  return {
    async next(): Promise<ResultBatch> {
      if (ended) return { images: [], end: true };
      const now = fresh();
      if (now.length) return { images: now, end: false };
      const doc = win.document;
      const height = (): number => (doc.scrollingElement ?? doc.documentElement).scrollHeight;
      const before = height();
      win.scrollTo(0, before);
      options.moreButton?.()?.click();
      const deadline = Date.now() + settleMs;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, pollMs));
        const more = fresh();
        if (more.length) return { images: more, end: false };
        // The page grew without new results yet (placeholders): keep scrolling with it.
        if (height() > before) win.scrollTo(0, height());
      }
      ended = true;
      return { images: [], end: true };
    },
  };
}
