// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OverlayPrediction } from '../messages.ts';
import { badgeText, HOST_ID, PredictionOverlay } from './overlay-core.ts';

/** Stands in for the browser's IntersectionObserver: the test says what becomes visible. */
class FakeIntersectionObserver {
  static instances: FakeIntersectionObserver[] = [];
  readonly observed = new Set<Element>();
  constructor(private readonly callback: IntersectionObserverCallback) {
    FakeIntersectionObserver.instances.push(this);
  }
  observe(el: Element): void {
    this.observed.add(el);
  }
  unobserve(el: Element): void {
    this.observed.delete(el);
  }
  disconnect(): void {
    this.observed.clear();
  }
  show(els: Element[]): void {
    this.callback(els.filter((e) => this.observed.has(e)).map((target) => ({ target, isIntersecting: true }) as IntersectionObserverEntry), this as never);
  }
}

class FakeResizeObserver {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}

function image(src: string, size: number): HTMLImageElement {
  const img = document.createElement('img');
  img.src = src;
  Object.defineProperty(img, 'complete', { value: true });
  Object.defineProperty(img, 'naturalWidth', { value: size });
  img.getBoundingClientRect = () => ({ left: 10, top: 20, right: 10 + size, bottom: 20 + size, width: size, height: size, x: 10, y: 20 }) as DOMRect;
  document.body.append(img);
  return img;
}

const answer = (url: string): OverlayPrediction => ({ url, top: [{ className: url.includes('cat') ? 'cat' : 'dog', probability: 0.875 }], error: null });
const io = () => FakeIntersectionObserver.instances.at(-1)!;
const badges = () => [...(document.getElementById(HOST_ID)?.shadowRoot?.querySelectorAll<HTMLElement>('.badge') ?? [])];

describe('prediction overlay', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('IntersectionObserver', FakeIntersectionObserver);
    vi.stubGlobal('ResizeObserver', FakeResizeObserver);
    document.body.innerHTML = '';
    FakeIntersectionObserver.instances = [];
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('labels visible big images in batches of at most 64, asking once per URL', async () => {
    const predict = vi.fn(async (urls: string[]) => urls.map(answer));
    const imgs = Array.from({ length: 70 }, (_, i) => image(`https://example.com/dog-${i}.jpg`, 100));
    const twin = image('https://example.com/dog-0.jpg', 120);
    const overlay = new PredictionOverlay(document, predict);
    overlay.start();
    io().show([...imgs, twin]);
    expect(predict).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(150);
    expect(predict.mock.calls.map(([urls]) => urls.length)).toEqual([64, 6]);
    expect(badges()).toHaveLength(71);
    expect(badges()[0]!.textContent).toBe('dog 88%');

    // Seen again later (scrolled back): answered from the cache.
    const again = image('https://example.com/dog-5.jpg', 100);
    await vi.advanceTimersByTimeAsync(0);
    io().show([again]);
    await vi.advanceTimersByTimeAsync(150);
    expect(predict).toHaveBeenCalledTimes(2);
    expect(badges()).toHaveLength(72);
    overlay.stop();
  });

  it('leaves small images, data URLs and failed predictions without a badge', async () => {
    const predict = vi.fn(async (urls: string[]) => urls.map((url) => (url.includes('broken') ? { url, top: null, error: 'not an image' } : answer(url))));
    const icon = image('https://example.com/icon.png', 32);
    const inline = image('data:image/png;base64,AAAA', 100);
    const broken = image('https://example.com/broken.jpg', 100);
    const cat = image('https://example.com/cat.jpg', 100);
    const overlay = new PredictionOverlay(document, predict);
    overlay.start();
    io().show([icon, inline, broken, cat]);
    await vi.advanceTimersByTimeAsync(150);
    expect(predict.mock.calls).toEqual([[['https://example.com/broken.jpg', 'https://example.com/cat.jpg']]]);
    expect(badges().map((b) => [b.dataset.url, b.dataset.class])).toEqual([['https://example.com/cat.jpg', 'cat']]);
    overlay.stop();
  });

  it('adds nothing to the page until started, and removes everything when stopped', async () => {
    const predict = vi.fn(async (urls: string[]) => urls.map(answer));
    const dog = image('https://example.com/dog.jpg', 100);
    const before = document.documentElement.outerHTML;
    const overlay = new PredictionOverlay(document, predict);
    expect(document.documentElement.outerHTML).toBe(before);
    overlay.start();
    io().show([dog]);
    await vi.advanceTimersByTimeAsync(150);
    expect(badges()).toHaveLength(1);
    // The layer is outside <body>, which keeps its children as they were.
    expect(document.body.querySelector(`#${HOST_ID}`)).toBeNull();
    overlay.stop();
    expect(document.documentElement.outerHTML).toBe(before);
  });

  it('on refresh drops its answers and asks again for what is visible: failed images get badges, old badges new text', async () => {
    let model: string | null = null;
    const predict = vi.fn(async (urls: string[]) => {
      if (!model) throw new Error('this dataset has no trained model yet');
      return urls.map((url) => ({ url, top: [{ className: model!, probability: 0.75 }], error: null }));
    });
    const first = image('https://example.com/one.jpg', 100);
    const second = image('https://example.com/two.jpg', 100);
    const overlay = new PredictionOverlay(document, predict);
    overlay.start();
    io().show([first, second]);
    await vi.advanceTimersByTimeAsync(150);
    expect(badges()).toHaveLength(0);

    model = 'grizzly';
    overlay.refresh();
    await vi.advanceTimersByTimeAsync(150);
    expect(badges().map((b) => b.textContent)).toEqual(['grizzly 75%', 'grizzly 75%']);

    // An answer still on its way when the next model arrives is from the old one: it must not win.
    let release!: () => void;
    predict.mockImplementationOnce(async (urls) => {
      await new Promise<void>((r) => (release = r));
      return urls.map((url) => ({ url, top: [{ className: 'stale', probability: 0.9 }], error: null }));
    });
    const third = image('https://example.com/three.jpg', 100);
    await vi.advanceTimersByTimeAsync(0);
    io().show([third]);
    await vi.advanceTimersByTimeAsync(150);
    model = 'black';
    overlay.refresh();
    await vi.advanceTimersByTimeAsync(150);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(badges().map((b) => b.textContent)).toEqual(['black 75%', 'black 75%', 'black 75%']);
    expect(predict).toHaveBeenCalledTimes(4);
    overlay.stop();
  });

  it('formats the top class with its probability', () => {
    expect(badgeText({ url: 'u', top: [{ className: 'grizzly', probability: 0.996 }], error: null })).toBe('grizzly 100%');
    expect(badgeText({ url: 'u', top: null, error: 'x' })).toBeNull();
  });
});
