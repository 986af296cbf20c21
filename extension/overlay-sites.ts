/**
 * Where the prediction overlay is switched on: a list of host names in storage.local,
 * read by the overlay content script, the popup's toggle and the background (which
 * answers predictions only for pages on such a site).
 */
import browser from 'webextension-polyfill';

export const OVERLAY_SITES_KEY = 'teddy.overlay.sites';

/** The site of a page URL as the overlay remembers it: its host name, or null for non-web pages. */
export function siteOf(url: string | undefined | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return /^https?:$/.test(parsed.protocol) && parsed.hostname ? parsed.hostname : null;
  } catch {
    return null;
  }
}

export function parseSites(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 253) : [];
}

export async function overlaySites(): Promise<string[]> {
  return parseSites((await browser.storage.local.get(OVERLAY_SITES_KEY))[OVERLAY_SITES_KEY]);
}

export async function isOverlayOn(site: string): Promise<boolean> {
  return (await overlaySites()).includes(site);
}

export async function setOverlayOn(site: string, on: boolean): Promise<void> {
  const sites = new Set(await overlaySites());
  if (on) sites.add(site);
  else sites.delete(site);
  await browser.storage.local.set({ [OVERLAY_SITES_KEY]: [...sites].sort() });
}

/** Calls `listener` with the new list whenever it changes (from any part of the extension). */
export function onOverlaySitesChanged(listener: (sites: string[]) => void): () => void {
  const onChanged = (changes: Record<string, browser.Storage.StorageChange>, area: string): void => {
    if (area === 'local' && OVERLAY_SITES_KEY in changes) listener(parseSites(changes[OVERLAY_SITES_KEY]!.newValue));
  };
  browser.storage.onChanged.addListener(onChanged);
  return () => browser.storage.onChanged.removeListener(onChanged);
}
