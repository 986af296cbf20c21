/** URL helpers shared by the scrapers. */

/** `value` as an absolute http(s) URL (resolved against `base`), or null for anything else. */
export function httpUrl(value: unknown, base?: string): string | null {
  if (typeof value !== 'string' || !value) return null;
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
