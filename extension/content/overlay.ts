/**
 * Content feature on every page: the prediction overlay (see overlay-core.ts), started
 * and stopped as the user switches it on or off for this page's site. On a site where it
 * is off this file only listens: no element, no observer, no request.
 */
import browser from 'webextension-polyfill';
import { ask } from '../ask.ts';
import { TabRequest } from '../messages.ts';
import { isOverlayOn, onOverlaySitesChanged, siteOf } from '../overlay-sites.ts';
import { PredictionOverlay } from './overlay-core.ts';

if (typeof browser !== 'undefined' && browser.runtime?.id && window === window.top) {
  const site = siteOf(location.href);
  const overlay = new PredictionOverlay(document, async (urls) => (await ask({ kind: 'overlay.predict', urls })).predictions);
  browser.runtime.onMessage.addListener((raw: unknown) => {
    const parsed = TabRequest.safeParse(raw);
    if (parsed.success && parsed.data.kind === 'page.site') return Promise.resolve({ site });
    if (parsed.success && parsed.data.kind === 'overlay.refresh') {
      overlay.refresh();
      return Promise.resolve({});
    }
    return undefined;
  });
  if (site) {
    const apply = (on: boolean): void => (on ? overlay.start() : overlay.stop());
    void isOverlayOn(site).then(apply, () => {});
    onOverlaySitesChanged((sites) => apply(sites.includes(site)));
  }
}
