/**
 * Builds the browser extension from extension/ with the root manifest.json.
 *
 *   vite build                 → dist/extension           (Chrome, what users load)
 *   vite build --mode e2e      → dist/extension-e2e       (Chrome, plus local fixture search pages)
 *   vite build --mode firefox  → dist/extension-firefox   (Firefox MV3)
 *
 * The e2e build differs only in where the search-page content scripts run: it also
 * matches http://127.0.0.1/serp/<engine>/… so the browser tests can drive the real
 * collect code against local fixture pages without touching the network.
 */
import { crx, type ManifestV3Export } from '@crxjs/vite-plugin';
import preact from '@preact/preset-vite';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const ROOT = import.meta.dirname;

interface ContentScript {
  matches: string[];
  js: string[];
  run_at?: string;
  world?: string;
}

function manifestFor(mode: string): ManifestV3Export {
  const manifest = JSON.parse(readFileSync(resolve(ROOT, 'manifest.json'), 'utf8')) as Record<string, unknown> & {
    content_scripts: ContentScript[];
    background: { service_worker: string; type?: string };
  };
  // The tap must run on exactly the Google pages the panel runs on, so manifest.json lists them once (the panel's).
  const panel = manifest.content_scripts.find((script) => script.js.includes('content/collect-panel.tsx'))!;
  const tap = manifest.content_scripts.find((script) => script.js.includes('content/google-tap.ts'))!;
  tap.matches = panel.matches.filter((match) => match.startsWith('https://www.google.'));
  if (mode === 'e2e') {
    for (const script of manifest.content_scripts) {
      if (script.js.includes('content/google-tap.ts')) script.matches.push('http://127.0.0.1/serp/google/*');
      if (script.js.includes('content/collect-panel.tsx')) script.matches.push('http://127.0.0.1/serp/*');
    }
  }
  if (mode === 'firefox') {
    // Firefox MV3 has no extension service workers; the same module runs as an event page.
    manifest.background = { scripts: [manifest.background.service_worker], type: 'module' } as never;
    manifest.browser_specific_settings = { gecko: { id: 'teddy@teddy.local', strict_min_version: '128.0' } };
    delete manifest.minimum_chrome_version;
    delete manifest.key;
  }
  return manifest as unknown as ManifestV3Export;
}

export default defineConfig(({ mode }) => ({
  root: resolve(ROOT, 'extension'),
  publicDir: false,
  plugins: [
    preact(),
    crx({
      manifest: manifestFor(mode),
      browser: mode === 'firefox' ? 'firefox' : 'chrome',
      // The MAIN-world tap runs where chrome.runtime does not exist, so it cannot use crxjs's loader.
      contentScripts: { standaloneFiles: ['content/google-tap.ts'] },
    }),
  ],
  server: { fs: { allow: [ROOT] } },
  build: {
    outDir: resolve(ROOT, 'dist', mode === 'production' ? 'extension' : `extension-${mode}`),
    emptyOutDir: true,
    target: 'chrome120',
    minify: false,
    sourcemap: false,
  },
}));
