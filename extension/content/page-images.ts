/**
 * Content feature on every page: lists the page's images for "Add every image on this
 * page", and asks the user for a new class name for the context menu's "New class…".
 */
import browser from 'webextension-polyfill';
import { Name } from '../../shared/protocol.ts';
import { TabRequest, type PageImage } from '../messages.ts';

/** The verifier drops images under 32 px a side; icons and spacers are not worth sending. */
const MIN_SIDE = 32;

/** The largest candidate of a srcset, which is what a collector wants from a responsive image. */
export function largestSrcsetCandidate(srcset: string, base: string): string | null {
  let best: { url: string; size: number } | null = null;
  for (const part of srcset.split(/,\s+/)) {
    const [url, descriptor = '1x'] = part.trim().split(/\s+/);
    if (!url) continue;
    const size = parseFloat(descriptor) * (descriptor.endsWith('w') ? 1 : 1000);
    if (!best || size > best.size) best = { url, size };
  }
  if (!best) return null;
  try {
    return new URL(best.url, base).href;
  } catch {
    return null;
  }
}

export function pageImages(doc: Document): PageImage[] {
  const seen = new Set<string>();
  const images: PageImage[] = [];
  const sourcePage = doc.location?.href ?? null;
  for (const img of Array.from(doc.images)) {
    const loaded = img.complete && img.naturalWidth > 0;
    if (loaded && (img.naturalWidth < MIN_SIDE || img.naturalHeight < MIN_SIDE)) continue;
    const candidates = [img.srcset ? largestSrcsetCandidate(img.srcset, doc.baseURI) : null, img.currentSrc, img.src];
    const url = candidates.find((c): c is string => !!c && /^https?:/i.test(c));
    if (!url || seen.has(url)) continue;
    seen.add(url);
    images.push({ url, sourcePage });
  }
  return images;
}

function promptClassName(classes: string[]): string | null {
  const hint = classes.length ? ` (existing: ${classes.slice(0, 10).join(', ')}${classes.length > 10 ? ', …' : ''})` : '';
  for (;;) {
    const answer = window.prompt(`Teddy — name of the new class${hint}`);
    if (answer === null) return null;
    const parsed = Name.safeParse(answer);
    if (parsed.success) return parsed.data;
    window.alert(`Teddy: that name ${parsed.error.issues[0]?.message ?? 'is not valid'}.`);
  }
}

if (typeof browser !== 'undefined' && browser.runtime?.id) {
  browser.runtime.onMessage.addListener((raw: unknown) => {
    const parsed = TabRequest.safeParse(raw);
    if (!parsed.success) return undefined;
    switch (parsed.data.kind) {
      case 'page.images':
        return Promise.resolve({ images: pageImages(document) });
      case 'page.promptClassName':
        return Promise.resolve({ name: promptClassName(parsed.data.classes) });
    }
  });
}
