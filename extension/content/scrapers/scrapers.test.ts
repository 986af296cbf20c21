import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { parseBing, bing } from './bing.ts';
import { duckduckgo, findVqd, parseDdgResponse } from './duckduckgo.ts';
import { FIXTURE_ORIGIN as O, fixturePage, fixtureText, pageFromHtml } from './fixtures.ts';
import { GOOGLE_DATA_EVENT, google, googleProblem, parseGoogle, parseGoogleBasic } from './google.ts';
import { detectEngine } from './index.ts';
import type { ResultSource, ScrapedImage } from './types.ts';

async function drain(source: ResultSource): Promise<ScrapedImage[]> {
  const all: ScrapedImage[] = [];
  for (let i = 0; i < 20; i++) {
    const batch = await source.next();
    all.push(...batch.images);
    if (batch.end) break;
  }
  return all;
}

const urls = (images: ScrapedImage[]) => images.map((i) => i.url);
/** The sources wait seconds for more before calling it the end; fixtures answer at once. */
const QUICK = { settleMs: 400 };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

describe('engine detection', () => {
  it('recognises the real results pages and nothing else', () => {
    expect(detectEngine('https://www.google.com/search?q=teddy&udm=2')).toBe('google');
    expect(detectEngine('https://www.google.co.uk/search?q=teddy&tbm=isch')).toBe('google');
    expect(detectEngine('https://www.google.com/search?q=teddy')).toBeNull();
    expect(detectEngine('https://www.bing.com/images/search?q=grizzly')).toBe('bing');
    expect(detectEngine('https://www.bing.com/search?q=grizzly')).toBeNull();
    expect(detectEngine('https://duckduckgo.com/?q=black+bear&iax=images&ia=images')).toBe('duckduckgo');
    expect(detectEngine('https://duckduckgo.com/?q=black+bear')).toBeNull();
    expect(detectEngine('http://127.0.0.1:5000/serp/bing/images-search.html')).toBeNull();
    expect(detectEngine('http://127.0.0.1:5000/serp/bing/images-search.html', true)).toBe('bing');
    expect(detectEngine('http://evil.test/serp/bing/x', true)).toBeNull();
  });
});

describe('Bing scraper', () => {
  it('reads originals, source pages and thumbnails from a.iusc[m]', () => {
    const win = fixturePage('bing/images-search.html', `${O}/serp/bing/images-search.html?q=grizzly`);
    const images = parseBing(win.document);
    expect(images).toHaveLength(5);
    expect(images[0]).toEqual({ url: `${O}/img/bing-1.jpg`, sourcePage: `${O}/pages/bing-1.html`, thumbnail: `${O}/thumb/bing-1.jpg` });
    expect(bing.problem(win.document)).toBeNull();
  });

  it('collects the results that appear after scrolling, then reports the end', async () => {
    const win = fixturePage('bing/images-search.html', `${O}/serp/bing/images-search.html?q=grizzly`);
    let loads = 0;
    // The page's own lazy loading, as the browser would run it: scrolling appends the next fragment once.
    vi.spyOn(win, 'scrollTo').mockImplementation(() => {
      if (loads++ > 0) return;
      setTimeout(() => {
        const div = win.document.createElement('div');
        div.innerHTML = fixtureText('bing/async-6.html');
        win.document.body.appendChild(div);
      }, 50);
    });
    const source = bing.open(win, QUICK);
    const first = await source.next();
    expect(urls(first.images)).toEqual(range(1, 5).map((i) => `${O}/img/bing-${i}.jpg`));
    const all = [...first.images, ...(await drain(source))];
    expect(urls(all)).toEqual(range(1, 9).map((i) => `${O}/img/bing-${i}.jpg`));
  });

  const realPage = '/work/shared/fixtures/serp/bing-images-page.html';
  it.skipIf(!existsSync(realPage))('reads all 47 originals of a real, saved Bing page', () => {
    const win = pageFromHtml(readFileSync(realPage, 'utf8'), 'https://www.bing.com/images/search?q=golang+gopher');
    const images = parseBing(win.document);
    expect(images).toHaveLength(47);
    expect(images[0]!.url).toBe('https://vectorseek.com/wp-content/uploads/2023/03/Golang-Gopher-Logo-Vector.jpg');
    expect(images[0]!.sourcePage).toBe('https://vectorseek.com/vector_logo/golang-gopher-logo-vector/');
    for (const image of images) {
      expect(image.url).not.toMatch(/mm\.bing\.net|th\.bing\.com/);
      if (image.thumbnail) expect(image.thumbnail).toMatch(/bing\.(net|com)/);
    }
  });
});

describe('Google scraper', () => {
  it('reads originals and source pages from the inline data, not the thumbnails', () => {
    const win = fixturePage('google/search.html', `${O}/serp/google/search?q=teddy&udm=2`);
    expect(googleProblem(win.document)).toBeNull();
    const images = parseGoogle(win.document);
    expect(images).toHaveLength(6);
    expect(images[0]).toEqual({
      url: `${O}/img/google-1.jpg?w=1200`,
      sourcePage: `${O}/pages/google-1.html`,
      thumbnail: 'https://encrypted-tbn0.gstatic.com/images?q=tbn:ANd9GcTeddy01&s',
    });
    for (const image of images) expect(image.url).not.toMatch(/encrypted-tbn|^data:/);
  });

  it('adds the results of the loads made while scrolling (passed over from the page world)', async () => {
    const win = fixturePage('google/search.html', `${O}/serp/google/search?q=teddy&udm=2`);
    let loads = 0;
    vi.spyOn(win, 'scrollTo').mockImplementation(() => {
      if (loads++ > 0) return;
      setTimeout(() => {
        win.document.dispatchEvent(new (win as unknown as typeof globalThis).CustomEvent(GOOGLE_DATA_EVENT, { detail: fixtureText('google/search-async-7.txt') }));
      }, 50);
    });
    const all = await drain(google.open(win, QUICK));
    expect(urls(all)).toEqual(range(1, 10).map((i) => `${O}/img/google-${i}.jpg?w=1200`));
    expect(all[9]!.sourcePage).toBe(`${O}/pages/google-10.html`);
  });

  it('detects consent, captcha and "enable JavaScript" pages and says so', () => {
    expect(googleProblem(fixturePage('google/consent.html', 'https://www.google.com/search?q=x&udm=2').document)).toMatchObject({ kind: 'consent', thumbnailsOnly: false });
    expect(googleProblem(fixturePage('google/captcha.html', 'https://www.google.com/sorry/index?continue=x').document)).toMatchObject({ kind: 'captcha' });
    expect(googleProblem(fixturePage('google/nojs.html', 'https://www.google.com/search?q=x&udm=2').document)).toMatchObject({ kind: 'no_javascript' });
  });

  it('falls back to the thumbnails of the basic page, with their source pages', async () => {
    const win = fixturePage('google/basic.html', 'https://www.google.com/search?q=teddy&tbm=isch&gbv=1');
    expect(googleProblem(win.document)).toMatchObject({ kind: 'basic_html', thumbnailsOnly: true });
    const images = parseGoogleBasic(win.document);
    expect(images).toHaveLength(4);
    expect(images[0]).toEqual({
      url: 'https://encrypted-tbn0.gstatic.com/images?q=tbn:ANd9GcBasic1&s',
      thumbnail: 'https://encrypted-tbn0.gstatic.com/images?q=tbn:ANd9GcBasic1&s',
      sourcePage: `${O}/pages/google-basic-1.html`,
    });
    expect(await drain(google.open(win, QUICK))).toHaveLength(4);
  });
});

describe('DuckDuckGo scraper', () => {
  it('finds the vqd token in the page', () => {
    const win = fixturePage('duckduckgo/images.html', `${O}/serp/duckduckgo/?q=black+bear&iax=images&ia=images`);
    expect(findVqd(win.document)).toBe('4-1234567890123456789012345678901234567');
    expect(duckduckgo.problem(win.document)).toBeNull();
    expect(duckduckgo.problem(pageFromHtml('<p>no token</p>', 'https://duckduckgo.com/?q=x&iax=images').document)).toMatchObject({ kind: 'no_token' });
  });

  it('parses i.js results: originals with source pages, skipping malformed entries', () => {
    const { images, next } = parseDdgResponse(JSON.parse(fixtureText('duckduckgo/i-0.json')));
    expect(images).toHaveLength(6);
    expect(images[0]).toEqual({ url: `${O}/img/duckduckgo-1.jpg`, sourcePage: `${O}/pages/duckduckgo-1.html`, thumbnail: `${O}/thumb/duckduckgo-1.jpg` });
    expect(next).toMatch(/^i\.js\?/);
    expect(() => parseDdgResponse({ error: 'nope' })).toThrow();
  });

  it('pages through i.js with the token until there is no next page', async () => {
    const win = fixturePage('duckduckgo/images.html', `${O}/serp/duckduckgo/?q=black+bear&iax=images&ia=images`);
    const asked: URL[] = [];
    Object.assign(win, {
      fetch: async (input: string) => {
        const url = new URL(input);
        asked.push(url);
        const page = url.searchParams.get('s') ?? '0';
        return new Response(fixtureText(`duckduckgo/i-${page}.json`), { headers: { 'content-type': 'application/json' } });
      },
    });
    const all = await drain(duckduckgo.open(win));
    expect(urls(all)).toEqual(range(1, 9).map((i) => `${O}/img/duckduckgo-${i}.jpg`));
    expect(asked).toHaveLength(2);
    expect(asked[0]!.pathname).toBe('/i.js');
    expect(asked[0]!.searchParams.get('q')).toBe('black bear');
    for (const url of asked) expect(url.searchParams.get('vqd')).toBe('4-1234567890123456789012345678901234567');
  });
});
