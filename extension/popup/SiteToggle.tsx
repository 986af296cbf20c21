/**
 * "Show predictions on this site": the per-site switch of the prediction overlay, for the
 * page the popup was opened over. The popup may not read tab URLs (no "tabs" permission),
 * so it asks the page's content script which site it shows.
 */
import { useEffect, useState } from 'preact/hooks';
import browser, { type Tabs } from 'webextension-polyfill';
import { tabResults } from '../messages.ts';
import { isOverlayOn, onOverlaySitesChanged, setOverlayOn } from '../overlay-sites.ts';

async function siteOfTab(tab: Tabs.Tab): Promise<string | null> {
  if (tab.id === undefined) return null;
  try {
    const answer = tabResults['page.site'].safeParse(await browser.tabs.sendMessage(tab.id, { kind: 'page.site' }));
    return answer.success ? answer.data.site : null;
  } catch {
    return null; // no content script there: a browser page, the store, a PDF…
  }
}

/** The page under the popup; when the popup is itself open in a tab, the web page used last. */
async function targetSite(): Promise<string | null> {
  const own = await browser.tabs.getCurrent().catch(() => undefined);
  const [active] = await browser.tabs.query({ active: true, currentWindow: true });
  if (active && active.id !== own?.id) return siteOfTab(active);
  const others = (await browser.tabs.query({})).filter((t) => t.id !== own?.id).sort((a, b) => (b.lastAccessed ?? 0) - (a.lastAccessed ?? 0));
  for (const tab of others) {
    const site = await siteOfTab(tab);
    if (site) return site;
  }
  return null;
}

export function SiteToggle() {
  const [site, setSite] = useState<string | null>(null);
  const [on, setOn] = useState(false);

  useEffect(() => {
    targetSite().then(async (found) => {
      setSite(found);
      if (found) setOn(await isOverlayOn(found));
    }, () => {});
  }, []);
  useEffect(() => (site ? onOverlaySitesChanged((sites) => setOn(sites.includes(site))) : undefined), [site]);

  if (!site) return null;
  return (
    <label class="inline site-toggle" title="badges with the model's top class on this site's images; nothing is sent from sites where it is off">
      <input id="overlay-toggle" type="checkbox" data-site={site} checked={on} onChange={(e) => void setOverlayOn(site, e.currentTarget.checked)} />
      Show predictions on <b>{site}</b>
    </label>
  );
}
