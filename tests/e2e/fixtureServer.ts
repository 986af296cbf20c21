/**
 * The local web the browser tests browse: fixture results pages of each engine
 * (tests/fixtures/serp), their lazy-load endpoints (Google's /search XHR, Bing's
 * async fragments, DuckDuckGo's i.js), the images they point to, source pages and a
 * plain page with images for the context-menu path. 127.0.0.1 only.
 *
 * With `shapesDir` (the training workflow) the results pages answer by query: searching
 * "disc", "square" or "stripes" on any engine gives results whose originals are pictures
 * of that shape, served from /shape/<kind>/… — with a few wrong pictures among them, as
 * real search results have, for the top losses to find.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { listenLocal, type Route } from '../helpers/imageServer.ts';
import { generatedJpeg } from '../helpers/images.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'serp');
const PAGES = resolve(import.meta.dirname, '..', 'fixtures', 'pages');

export const SHAPES = ['disc', 'square', 'stripes'] as const;
export type Shape = (typeof SHAPES)[number];
/** Where each engine's results start among the generated pictures of a class (each engine has at most 10). */
const ENGINE_OFFSET: Record<string, number> = { google: 0, bing: 10, duckduckgo: 20 };
/** Results that show another shape than the query: mislabelled web images. */
export const WRONG_RESULTS: Record<string, { kind: Shape; index: number }> = {
  'disc/google-3': { kind: 'square', index: 31 },
  'disc/duckduckgo-7': { kind: 'stripes', index: 32 },
  'square/bing-4': { kind: 'stripes', index: 31 },
  'stripes/duckduckgo-2': { kind: 'disc', index: 31 },
};

export interface FixtureServerOptions {
  /** makeShapesDataset output; switches the results pages to shapes by query. */
  shapesDir?: string;
}

function shapeOfQuery(q: string | null): Shape | null {
  return SHAPES.find((s) => q?.toLowerCase().includes(s)) ?? null;
}
const VQD = '4-1234567890123456789012345678901234567';

export interface FixtureServer {
  origin: string;
  /** Requests per path, to show what the browser asked for. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startFixtureServer(options: FixtureServerOptions = {}): Promise<FixtureServer> {
  // Known once listening; pages and fixtures are only rendered after that.
  let origin = '';
  const seeds = new Map<string, number>();
  let shape: Shape | null = null;
  const fixture = (path: string): string => {
    const text = readFileSync(resolve(FIXTURES, path), 'utf8').replaceAll('{{ORIGIN}}', origin);
    return options.shapesDir && shape ? text.replaceAll(`${origin}/img/`, `${origin}/shape/${shape}/`) : text;
  };
  const shapeFile = (kind: Shape, index: number): { file: string; type: string } => {
    const jpeg = resolve(options.shapesDir!, kind, `${kind}-${index}.jpg`);
    return existsSync(jpeg) ? { file: jpeg, type: 'image/jpeg' } : { file: resolve(options.shapesDir!, kind, `${kind}-${index}.png`), type: 'image/png' };
  };

  const handler: Route = (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (options.shapesDir) {
      // Lazy-load requests carry the query in their own URL or in the results page's (the referrer).
      let referrerQuery: string | null = null;
      try {
        referrerQuery = req.headers.referer ? new URL(req.headers.referer).searchParams.get('q') : null;
      } catch {
        referrerQuery = null;
      }
      shape = shapeOfQuery(url.searchParams.get('q')) ?? shapeOfQuery(referrerQuery);
    }
    const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      res.end(body);
    };
    const html = (body: string): void => send(200, 'text/html; charset=utf-8', body);
    const p = url.pathname;

    if (p === '/serp/google/search') {
      if (url.searchParams.get('async') === '1') {
        const start = Number(url.searchParams.get('start'));
        if (start === 6) return send(200, 'text/plain; charset=utf-8', fixture('google/search-async-7.txt'), { 'x-fixture-tiles': '[7,8,9,10]' });
        return send(200, 'text/plain; charset=utf-8', ")]}'\n[]", { 'x-fixture-tiles': '[]' });
      }
      return html(fixture('google/search.html'));
    }
    if (p.startsWith('/serp/google/')) return html(fixture(`google/${p.slice('/serp/google/'.length)}`));
    if (p === '/serp/bing/images/search') return html(fixture('bing/images-search.html'));
    if (p === '/serp/bing/async') return html(url.searchParams.get('first') === '6' ? fixture('bing/async-6.html') : '');
    if (p === '/serp/duckduckgo/') return html(fixture('duckduckgo/images.html'));
    if (p === '/i.js') {
      // Like DuckDuckGo, no token, no results.
      if (url.searchParams.get('vqd') !== VQD) return send(403, 'application/json', '{"error":"no vqd"}');
      return send(200, 'application/json', fixture(`duckduckgo/i-${url.searchParams.get('s') ?? '0'}.json`));
    }
    const image = /^\/(img|thumb)\/([a-z0-9-]+)\.jpg$/.exec(p);
    if (image) {
      const key = `${image[1]}/${image[2]}`;
      if (!seeds.has(key)) seeds.set(key, 3000 + seeds.size);
      const [w, h] = image[1] === 'thumb' ? [60, 45] : [160, 120];
      void generatedJpeg(seeds.get(key)!, w, h).then((jpeg) => send(200, 'image/jpeg', jpeg));
      return;
    }
    const shaped = options.shapesDir ? /^\/shape\/(disc|square|stripes)\/([a-z]+)-(\d+)\.jpg$/.exec(p) : null;
    if (shaped) {
      const [, kind, source, n] = shaped as unknown as [string, Shape, string, string];
      // Results pages use 10 pictures per engine; pictures for ordinary pages ("page-N") come after those.
      const picked = WRONG_RESULTS[`${kind}/${source}-${n}`] ?? { kind, index: source === 'page' ? 34 + Number(n) : (ENGINE_OFFSET[source] ?? 0) + Number(n) - 1 };
      const { file, type } = shapeFile(picked.kind, picked.index);
      if (!existsSync(file)) return send(404, 'text/plain', 'no such shape');
      return send(200, type, readFileSync(file));
    }
    if (p.startsWith('/pages/') && p.endsWith('.html') && existsSync(resolve(PAGES, p.slice('/pages/'.length)))) {
      return html(readFileSync(resolve(PAGES, p.slice('/pages/'.length)), 'utf8').replaceAll('{{ORIGIN}}', origin));
    }
    if (p === '/icon.png') {
      return void generatedJpeg(1, 16, 16).then((jpeg) => send(200, 'image/jpeg', jpeg));
    }
    if (p.startsWith('/pages/')) return html(`<!doctype html><title>${p}</title><p>A page that shows an image.</p>`);
    if (p === '/plain/gallery.html') {
      return html(`<!doctype html><html><head><meta charset="utf-8"><title>Bear gallery</title></head><body>
<h1>Bears</h1><img src="/icon.png" alt="tiny icon" width="16" height="16">
<img id="cub" src="${origin}/img/cub-1.jpg" alt="cub">
<img src="/img/gallery-1.jpg" alt="one"><img src="/img/gallery-2.jpg" alt="two">
<img src="/img/thumb-small.jpg" srcset="/img/gallery-3.jpg 800w, /img/thumb-small.jpg 200w" alt="three">
<img src="/img/bing-1.jpg" alt="already collected">
</body></html>`);
    }
    send(404, 'text/plain', 'not found');
  };
  const server = await listenLocal(handler);
  origin = server.origin;
  return server;
}
