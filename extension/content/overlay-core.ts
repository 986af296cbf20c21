/**
 * The prediction overlay on a page: every visible image larger than 64 px gets a small
 * badge with the model's top class and its probability.
 *
 * - Badges live in one shadow-root layer outside <body>, absolutely positioned over the
 *   images, so the page's own layout and styles are never touched (no layout shift).
 * - An IntersectionObserver decides what is visible; a MutationObserver catches images
 *   added or changed later. Visible URLs are batched (100 ms, ≤ 64) to `predict`;
 *   answers are cached by URL until the dataset gets a new model (`refresh`).
 */
import { MAX_OVERLAY_BATCH, type OverlayPrediction } from '../messages.ts';
import { adoptStyles } from './shadow.ts';

export const MIN_SIDE = 64;
const DEBOUNCE_MS = 100;
const CACHE_LIMIT = 2000;
/** After a failed request (daemon down, no model yet) wait before asking again for those URLs. */
const RETRY_AFTER_MS = 15_000;
export const HOST_ID = 'teddy-prediction-overlay';

const STYLE = `
:host { all: initial; }
.badge { position: absolute; z-index: 2147483647; pointer-events: none; white-space: nowrap;
  font: 600 11px/1.3 system-ui, sans-serif; color: #fff; background: rgba(21, 101, 192, .92);
  padding: 1px 5px; border-radius: 3px; box-shadow: 0 1px 3px rgba(0,0,0,.35); max-width: 160px;
  overflow: hidden; text-overflow: ellipsis; }
.badge.unsure { background: rgba(97, 97, 97, .9); }
`;

export function badgeText(prediction: OverlayPrediction): string | null {
  const top = prediction.top?.[0];
  return top ? `${top.className} ${Math.round(top.probability * 100)}%` : null;
}

/** The URL an image shows, if it is one the daemon can fetch. */
export function imageUrl(img: HTMLImageElement): string | null {
  const url = img.currentSrc || img.src;
  return /^https?:\/\//i.test(url) ? url : null;
}

export function bigEnough(rect: { width: number; height: number }): boolean {
  return rect.width >= MIN_SIDE && rect.height >= MIN_SIDE;
}

export type Predict = (urls: string[]) => Promise<OverlayPrediction[]>;

type CacheEntry = { state: 'pending' } | { state: 'done'; prediction: OverlayPrediction } | { state: 'failed'; at: number };

export class PredictionOverlay {
  private host: HTMLElement | null = null;
  private layer: HTMLElement | null = null;
  private readonly badges = new Map<HTMLImageElement, HTMLElement>();
  private readonly tracked = new Set<HTMLImageElement>();
  private readonly visible = new Set<HTMLImageElement>();
  /** Images with a pending `load` listener (it stays until a load, even across stop/start). */
  private readonly awaitingLoad = new WeakSet<HTMLImageElement>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly queue = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped by `refresh`: answers to requests sent before it come from the old model and are dropped. */
  private generation = 0;
  private frame: number | null = null;
  private intersections: IntersectionObserver | null = null;
  private mutations: MutationObserver | null = null;
  private resizes: ResizeObserver | null = null;

  constructor(
    private readonly doc: Document,
    private readonly predict: Predict,
  ) {}

  get running(): boolean {
    return this.intersections !== null;
  }

  start(): void {
    if (this.running) return;
    this.intersections = new IntersectionObserver((entries) => this.onIntersections(entries), { rootMargin: '150px' });
    this.resizes = new ResizeObserver(() => this.scheduleLayout());
    this.mutations = new MutationObserver((records) => this.onMutations(records));
    this.mutations.observe(this.doc.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'srcset'] });
    for (const img of Array.from(this.doc.querySelectorAll('img'))) this.track(img);
    const win = this.doc.defaultView!;
    win.addEventListener('scroll', this.onScroll, { capture: true, passive: true });
    win.addEventListener('resize', this.onScroll, { passive: true });
  }

  /** Back to an untouched page: every badge, the layer and all observers go. */
  stop(): void {
    if (!this.running) return;
    this.intersections?.disconnect();
    this.mutations?.disconnect();
    this.resizes?.disconnect();
    this.intersections = this.mutations = this.resizes = null;
    const win = this.doc.defaultView!;
    win.removeEventListener('scroll', this.onScroll, { capture: true });
    win.removeEventListener('resize', this.onScroll);
    if (this.timer) clearTimeout(this.timer);
    if (this.frame !== null) win.cancelAnimationFrame(this.frame);
    this.timer = null;
    this.frame = null;
    this.queue.clear();
    this.tracked.clear();
    this.visible.clear();
    this.badges.clear();
    this.host?.remove();
    this.host = this.layer = null;
  }

  private readonly onScroll = (): void => this.scheduleLayout();

  /**
   * The dataset has a new model: every cached answer (failures for want of a model
   * included) is stale. What is visible now is asked for again at once; the old badges
   * stay until their new answers replace them, so nothing flickers.
   */
  refresh(): void {
    if (!this.running) return;
    this.generation++;
    this.cache.clear();
    for (const img of this.visible) this.consider(img);
    this.scheduleFlush();
  }

  private track(img: HTMLImageElement): void {
    if (this.tracked.has(img)) return;
    this.tracked.add(img);
    this.intersections?.observe(img);
  }

  private untrack(img: HTMLImageElement): void {
    this.tracked.delete(img);
    this.visible.delete(img);
    this.intersections?.unobserve(img);
    this.resizes?.unobserve(img);
    this.badges.get(img)?.remove();
    this.badges.delete(img);
  }

  private onMutations(records: MutationRecord[]): void {
    for (const record of records) {
      if (record.type === 'attributes' && record.target instanceof HTMLImageElement) {
        // A new picture in the same element: forget its badge and look again.
        const img = record.target;
        this.untrack(img);
        this.track(img);
        continue;
      }
      for (const node of Array.from(record.addedNodes)) {
        if (node === this.host || !(node instanceof Element)) continue;
        if (node instanceof HTMLImageElement) this.track(node);
        else for (const img of Array.from(node.querySelectorAll('img'))) this.track(img);
      }
      for (const node of Array.from(record.removedNodes)) {
        if (!(node instanceof Element) || node === this.host) continue;
        const gone = node instanceof HTMLImageElement ? [node] : Array.from(node.querySelectorAll('img'));
        for (const img of gone) if (!img.isConnected) this.untrack(img);
      }
    }
    // Added or removed content moves what follows it.
    this.scheduleLayout();
  }

  private onIntersections(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const img = entry.target as HTMLImageElement;
      if (!entry.isIntersecting) {
        this.visible.delete(img);
        continue;
      }
      this.visible.add(img);
      this.consider(img);
    }
    this.scheduleFlush();
  }

  private consider(img: HTMLImageElement): void {
    if (!img.complete || img.naturalWidth === 0) {
      // Not loaded yet: its size and URL are not final. Look again when it is.
      // One listener per image is enough: an image that re-intersects while still loading would otherwise collect one more each time.
      if (this.awaitingLoad.has(img)) return;
      this.awaitingLoad.add(img);
      img.addEventListener(
        'load',
        () => {
          this.awaitingLoad.delete(img);
          if (this.visible.has(img)) {
            this.consider(img);
            this.scheduleFlush();
          }
        },
        { once: true },
      );
      return;
    }
    const url = imageUrl(img);
    if (!url || !bigEnough(img.getBoundingClientRect())) return;
    const entry = this.cache.get(url);
    if (entry?.state === 'done') this.show(img, entry.prediction);
    else if (!entry || (entry.state === 'failed' && Date.now() - entry.at > RETRY_AFTER_MS)) this.queue.add(url);
  }

  private scheduleFlush(): void {
    if (this.timer || this.queue.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, DEBOUNCE_MS);
  }

  private async flush(): Promise<void> {
    const urls = [...this.queue];
    const generation = this.generation;
    this.queue.clear();
    for (const url of urls) this.cache.set(url, { state: 'pending' });
    const batches: string[][] = [];
    for (let i = 0; i < urls.length; i += MAX_OVERLAY_BATCH) batches.push(urls.slice(i, i + MAX_OVERLAY_BATCH));
    await Promise.all(
      batches.map(async (batch) => {
        try {
          const predictions = await this.predict(batch);
          if (!this.running || generation !== this.generation) return;
          for (const p of predictions) this.remember(p.url, { state: 'done', prediction: p });
          for (const url of batch) if (this.cache.get(url)?.state === 'pending') this.remember(url, { state: 'failed', at: Date.now() });
        } catch (err) {
          if (generation !== this.generation) return;
          for (const url of batch) this.remember(url, { state: 'failed', at: Date.now() });
          console.debug('Teddy overlay: no predictions:', err instanceof Error ? err.message : err);
        }
      }),
    );
    if (!this.running || generation !== this.generation) return;
    const asked = new Set(urls);
    for (const img of this.visible) {
      const url = imageUrl(img);
      const entry = url ? this.cache.get(url) : undefined;
      if (entry?.state !== 'done' || !bigEnough(img.getBoundingClientRect())) continue;
      // A badge from before a refresh is replaced by this answer, or removed when the new model has none.
      if (!this.badges.has(img) || asked.has(url!)) this.show(img, entry.prediction);
    }
  }

  private remember(url: string, entry: CacheEntry): void {
    this.cache.delete(url);
    this.cache.set(url, entry);
    // Oldest first in a Map's order: trim from the front.
    while (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
  }

  private ensureLayer(): HTMLElement {
    if (this.layer && this.host?.isConnected) return this.layer;
    const host = this.doc.createElement('div');
    host.id = HOST_ID;
    // Outside <body> and out of flow: the page's layout cannot notice it.
    host.style.cssText = 'all: initial; position: absolute; left: 0; top: 0; width: 0; height: 0; overflow: visible; pointer-events: none; z-index: 2147483647;';
    const root = host.attachShadow({ mode: 'open' });
    const layer = this.doc.createElement('div');
    adoptStyles(root, STYLE);
    root.append(layer);
    this.doc.documentElement.append(host);
    this.host = host;
    this.layer = layer;
    return layer;
  }

  private show(img: HTMLImageElement, prediction: OverlayPrediction): void {
    const text = badgeText(prediction);
    if (!text) {
      this.badges.get(img)?.remove();
      this.badges.delete(img);
      return;
    }
    let badge = this.badges.get(img);
    if (!badge) {
      badge = this.doc.createElement('div');
      badge.className = 'badge';
      this.ensureLayer().append(badge);
      this.badges.set(img, badge);
      this.resizes?.observe(img);
    }
    const top = prediction.top![0]!;
    badge.textContent = text;
    badge.title = (prediction.top ?? []).map((t) => `${t.className} ${(t.probability * 100).toFixed(1)}%`).join('\n');
    badge.dataset.class = top.className;
    badge.dataset.probability = String(top.probability);
    badge.dataset.url = prediction.url;
    badge.classList.toggle('unsure', top.probability < 0.5);
    this.place(img, badge);
  }

  private place(img: HTMLImageElement, badge: HTMLElement): void {
    const rect = img.getBoundingClientRect();
    const origin = this.hasBox(img, rect) ? this.host!.getBoundingClientRect() : null;
    this.position(badge, rect, origin);
  }

  private hasBox(img: HTMLImageElement, rect: DOMRect): boolean {
    return img.isConnected && rect.width !== 0 && rect.height !== 0;
  }

  /** `origin` is the layer's rect (it sits at the document's origin); null hides the badge. */
  private position(badge: HTMLElement, rect: DOMRect, origin: DOMRect | null): void {
    if (!origin) {
      badge.style.display = 'none';
      return;
    }
    badge.style.display = '';
    badge.style.left = `${rect.left - origin.left + 4}px`;
    badge.style.top = `${rect.top - origin.top + 4}px`;
    badge.style.maxWidth = `${Math.max(40, rect.width - 8)}px`;
  }

  private scheduleLayout(): void {
    if (this.frame !== null || this.badges.size === 0) return;
    this.frame = this.doc.defaultView!.requestAnimationFrame(() => {
      this.frame = null;
      // Every read before any write: a style write between two reads forces a layout per badge.
      const placed = Array.from(this.badges, ([img, badge]) => {
        const rect = img.getBoundingClientRect();
        return { badge, rect, shown: this.hasBox(img, rect) };
      });
      // The layer never moves with its badges, so one read of it serves them all.
      const origin = placed.some((p) => p.shown) ? this.host!.getBoundingClientRect() : null;
      for (const { badge, rect, shown } of placed) this.position(badge, rect, shown ? origin : null);
    });
  }
}
