/** Settings in storage.local, validated on the way out: storage is written by older versions too. */
import browser from 'webextension-polyfill';
import { Settings } from '../messages.ts';

const KEY = 'teddy.settings';
const DATASET_KEY = 'teddy.dataset';
export const DEFAULT_DATASET = 'default';

export async function loadSettings(): Promise<Settings | null> {
  const stored = await browser.storage.local.get(KEY);
  const parsed = Settings.safeParse(stored[KEY]);
  return parsed.success ? parsed.data : null;
}

export async function saveSettings(settings: Settings): Promise<void> {
  await browser.storage.local.set({ [KEY]: Settings.parse(settings) });
}

/** The dataset chosen in the popup; kept apart from pairing so it survives re-pairing. */
export async function loadDataset(): Promise<string> {
  const stored = await browser.storage.local.get(DATASET_KEY);
  const value = stored[DATASET_KEY];
  return typeof value === 'string' && value.trim() ? value : DEFAULT_DATASET;
}

export async function saveDataset(dataset: string): Promise<void> {
  await browser.storage.local.set({ [DATASET_KEY]: dataset });
}
