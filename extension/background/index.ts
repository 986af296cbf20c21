/**
 * The background service worker owns the one daemon connection. Popup, options and
 * content scripts ask it for things by runtime message (see ../messages.ts); it
 * forwards daemon events to the extension's pages and keeps the badge and the
 * context menus current.
 */
import browser, { type Menus, type Runtime, type Tabs } from 'webextension-polyfill';
import type { SocketLike } from '../../shared/client.ts';
import { Name, isRequestType, requests, type Event } from '../../shared/protocol.ts';
import {
  BackgroundError,
  BgRequest,
  TabRequest,
  tabResults,
  type AddSummary,
  type BgReply,
  type Broadcast,
  type CollectedItem,
  type LinkState,
  type PageImage,
} from '../messages.ts';
import { isOverlayOn, siteOf } from '../overlay-sites.ts';
import { parsePairing } from '../pairing.ts';
import { badgeFor } from './badge.ts';
import { addInBatches } from './batches.ts';
import { DaemonLink } from './connection.ts';
import { menuModel, parseMenuId, type MenuItem } from './menus.ts';
import { DEFAULT_DATASET, loadDataset, loadSettings, saveDataset, saveSettings } from './settings.ts';

const VERSION = browser.runtime.getManifest().version;

let dataset = DEFAULT_DATASET;
let classes: string[] = [];
let menu: MenuItem[] = [];
let flashUntil = 0;

const link = new DaemonLink({
  createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
  clientInfo: { name: 'teddy-extension', version: VERSION },
  onState: (state) => {
    void showBadge(state);
    broadcast({ kind: 'state.changed', state });
  },
  onEvent: (event: Event) => {
    broadcast({ kind: 'daemon.event', event });
    // The overlay predicts with the selected dataset only: other datasets' models do not concern it.
    if (event.kind === 'model.ready' && event.dataset === dataset) void refreshOverlays();
  },
  onConnected: async (client) => {
    await client.request('dataset.create', { name: dataset });
    const list = await client.request('class.list', { dataset });
    await setClasses(list.classes.map((c) => c.name));
  },
});

let applying: Promise<void> = Promise.resolve();

/** Rebuilds the browser's menus; serialised, as concurrent removeAll/create calls interleave badly. */
function applyMenus(items: MenuItem[]): Promise<void> {
  applying = applying.then(async () => {
    await browser.contextMenus.removeAll();
    for (const item of items) {
      await new Promise<void>((resolve) => {
        browser.contextMenus.create(
          {
            id: item.id,
            title: item.title,
            contexts: item.contexts,
            ...(item.parentId ? { parentId: item.parentId } : {}),
            ...(item.type ? { type: item.type } : {}),
          },
          () => resolve(),
        );
      });
    }
  });
  return applying.catch(() => {});
}

async function showBadge(state: LinkState): Promise<void> {
  if (Date.now() < flashUntil) return;
  const badge = badgeFor(state);
  await Promise.all([
    browser.action.setBadgeText({ text: badge.text }),
    browser.action.setBadgeBackgroundColor({ color: badge.color }),
    browser.action.setTitle({ title: badge.title }),
  ]).catch(() => {});
}

/** Briefly shows "+N" after a context-menu add, the only feedback a menu click can give. */
async function flashBadge(text: string): Promise<void> {
  flashUntil = Date.now() + 3000;
  await browser.action.setBadgeText({ text }).catch(() => {});
  await browser.action.setBadgeBackgroundColor({ color: '#1565c0' }).catch(() => {});
  setTimeout(() => {
    flashUntil = 0;
    void showBadge(link.state);
  }, 3000);
}

function broadcast(message: Broadcast): void {
  // Nobody listening (popup closed) is the normal case, not an error.
  browser.runtime.sendMessage(message).catch(() => {});
}

/** Tells every tab's overlay to drop its answers; tabs without the content script (or with it off) ignore it. */
async function refreshOverlays(): Promise<void> {
  const tabs = await browser.tabs.query({}).catch(() => []);
  const message = TabRequest.parse({ kind: 'overlay.refresh' });
  await Promise.all(tabs.map((tab) => (tab.id === undefined ? undefined : browser.tabs.sendMessage(tab.id, message).catch(() => {}))));
}

async function setClasses(names: string[]): Promise<void> {
  const sorted = [...names].sort((a, b) => a.localeCompare(b));
  // Every popup and panel asks for the classes, and rebuilding the menus is dozens of browser calls:
  // skip it when nothing changed. `menu` is empty only before the first apply, which always runs.
  if (menu.length && sorted.length === classes.length && sorted.every((name, i) => name === classes[i])) {
    // Callers may rely on the menus being in place once this resolves, as before.
    await applying.catch(() => {});
    return;
  }
  classes = sorted;
  menu = menuModel(classes);
  await applyMenus(menu);
}

async function refreshClasses(): Promise<void> {
  const list = await link.request('class.list', { dataset });
  await setClasses(list.classes.map((c) => c.name));
}

async function collect(className: string, items: CollectedItem[]): Promise<AddSummary> {
  await link.waitConnected(5000);
  const summary = await addInBatches((params) => link.request('urls.add', params), dataset, className, items);
  if (!classes.includes(className)) await refreshClasses();
  broadcast({ kind: 'urls.added', dataset, className, summary });
  return summary;
}

/** Content scripts run inside pages we do not control: they may collect, nothing more. */
const CONTENT_SCRIPT_KINDS = new Set<BgRequest['kind']>(['state.get', 'classes.get', 'collect.add', 'overlay.predict']);

async function handle(request: BgRequest, sender: Runtime.MessageSender): Promise<unknown> {
  switch (request.kind) {
    case 'state.get':
      return link.state;
    case 'settings.get':
      return { settings: await loadSettings(), dataset };
    case 'pairing.set': {
      const pairing = parsePairing(request.token, request.address);
      if ('error' in pairing) throw new BackgroundError('invalid_pairing', pairing.error);
      await saveSettings(pairing);
      link.configure(pairing);
      return link.state;
    }
    case 'dataset.select': {
      dataset = request.dataset;
      await saveDataset(dataset);
      if (link.state.status === 'connected') {
        await link.request('dataset.create', { name: dataset });
        await refreshClasses();
      }
      broadcast({ kind: 'dataset.changed', dataset });
      void refreshOverlays();
      return { dataset };
    }
    case 'classes.get':
      if (link.state.status === 'connected') await refreshClasses();
      return { dataset, classes };
    case 'collect.add':
      return collect(request.className, request.items);
    case 'overlay.predict': {
      // Only pages on a site where the user switched the overlay on get predictions: elsewhere nothing may be sent.
      const site = siteOf(sender.url);
      if (!site || !(await isOverlayOn(site))) {
        throw new BackgroundError('forbidden', 'predictions are switched off for this site');
      }
      await link.waitConnected(5000);
      const result = await link.request('predict.urls', { dataset, urls: request.urls, topK: 3 });
      return { dataset, predictions: result.predictions };
    }
    case 'daemon.request': {
      if (!isRequestType(request.type) || request.type === 'hello') {
        throw new BackgroundError('unknown_type', `unknown daemon request "${request.type}"`);
      }
      const params = requests[request.type].params.safeParse(request.params);
      if (!params.success) throw new BackgroundError('invalid_params', `invalid parameters for "${request.type}"`);
      return link.request(request.type, params.data as never);
    }
  }
}

function errorReply(err: unknown): BgReply {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'internal';
  return { ok: false, error: { code: code.slice(0, 64), message: (err instanceof Error ? err.message : String(err)).slice(0, 2000) } };
}

function isExtensionPage(sender: Runtime.MessageSender): boolean {
  // Extension pages may sit in a tab too (options, a popup opened as a page), so the URL decides, not `tab`.
  return (sender.url ?? '').startsWith(browser.runtime.getURL(''));
}

browser.runtime.onMessage.addListener((raw: unknown, sender: Runtime.MessageSender): Promise<BgReply> | undefined => {
  if (sender.id !== browser.runtime.id) return undefined;
  const parsed = BgRequest.safeParse(raw);
  if (!parsed.success) {
    // Broadcasts between pages also pass through here; only answer what claims to be for us.
    const kind = (raw as { kind?: unknown } | null)?.kind;
    const known = BgRequest.options.some((o) => o.shape.kind.value === kind);
    return known ? Promise.resolve({ ok: false, error: { code: 'bad_message', message: `invalid "${String(kind)}" message` } }) : undefined;
  }
  if (!isExtensionPage(sender) && !CONTENT_SCRIPT_KINDS.has(parsed.data.kind)) {
    return Promise.resolve({ ok: false, error: { code: 'forbidden', message: `"${parsed.data.kind}" is for extension pages only` } });
  }
  return handle(parsed.data, sender).then(
    (result): BgReply => ({ ok: true, result }),
    (err): BgReply => errorReply(err),
  );
});

async function askTab<K extends TabRequest['kind']>(tabId: number, request: Extract<TabRequest, { kind: K }>): Promise<unknown> {
  const raw: unknown = await browser.tabs.sendMessage(tabId, TabRequest.parse(request));
  const schema = tabResults[request.kind];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error('the page sent an invalid answer');
  return parsed.data;
}

async function onMenuClicked(info: Menus.OnClickData, tab: Tabs.Tab | undefined): Promise<AddSummary | null> {
  const choice = parseMenuId(info.menuItemId);
  if (!choice) return null;
  const tabId = tab?.id;
  let className = choice.className;
  if (className === null) {
    if (tabId === undefined) return null;
    const answer = (await askTab(tabId, { kind: 'page.promptClassName', classes })) as { name: string | null };
    if (answer.name === null) return null;
    const name = Name.safeParse(answer.name);
    if (!name.success) return null;
    className = name.data;
  }
  let items: CollectedItem[];
  if (choice.target === 'image') {
    if (!info.srcUrl) return null;
    items = [{ url: info.srcUrl, sourcePage: info.pageUrl ?? tab?.url ?? null }];
  } else {
    if (tabId === undefined) return null;
    const answer = (await askTab(tabId, { kind: 'page.images' })) as { images: PageImage[] };
    items = answer.images;
  }
  if (!items.length) return null;
  const summary = await collect(className, items);
  await flashBadge(`+${summary.added}`);
  return summary;
}

browser.contextMenus.onClicked.addListener((info, tab) => {
  onMenuClicked(info, tab).catch((err: unknown) => {
    console.warn('Teddy: adding from the context menu failed:', err);
    void flashBadge('ERR');
  });
});

// Chrome stops an idle service worker; the alarm wakes it so a lost connection is retried.
browser.alarms.create('teddy-wake', { periodInMinutes: 0.5 });
browser.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === 'teddy-wake') link.poke();
});

void (async () => {
  dataset = await loadDataset();
  await setClasses([]);
  const settings = await loadSettings();
  link.configure(settings);
})();

if (import.meta.env.MODE === 'e2e') {
  // Native context menus cannot be clicked from puppeteer; the browser tests call the
  // same handler the menu click runs, and read the menu model that was applied.
  Object.assign(globalThis, { teddyTest: { onMenuClicked, menu: () => menu, state: () => link.state } });
}
