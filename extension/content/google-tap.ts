/**
 * Runs in the page's own world on Google results pages (the extension's isolated
 * world cannot see the page's requests): passes the text of the responses that load
 * more results while scrolling to the content script, which parses them.
 * Kept tiny, its one import import-free (it is bundled alone, inlined, for the page's
 * world); it never changes what the page receives.
 */
import { GOOGLE_DATA_EVENT } from './google-event.ts';

const isSearch = (url: string): boolean => {
  try {
    return new URL(url, location.href).pathname.endsWith('/search');
  } catch {
    return false;
  }
};

const announce = (text: string): void => {
  if (text.includes('encrypted-tbn')) document.dispatchEvent(new CustomEvent(GOOGLE_DATA_EVENT, { detail: text }));
};

const originalOpen = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, ...args: unknown[]) {
  if (isSearch(String(args[1]))) {
    this.addEventListener('load', () => {
      if (this.responseType === '' || this.responseType === 'text') announce(this.responseText);
    });
  }
  return (originalOpen as (...a: unknown[]) => void).apply(this, args);
} as typeof XMLHttpRequest.prototype.open;

const originalFetch = window.fetch;
window.fetch = async function (...args: Parameters<typeof fetch>) {
  const response = await originalFetch.apply(this, args);
  const url = args[0] instanceof Request ? args[0].url : String(args[0]);
  if (isSearch(url)) {
    response
      .clone()
      .text()
      .then(announce)
      .catch(() => {});
  }
  return response;
};

// A module, so its names stay out of the page's globals when type-checked.
export {};
