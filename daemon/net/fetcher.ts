/**
 * Fetches one URL's bytes under the download rules: http(s) only, public addresses
 * only unless allowed, connect and total timeouts, a redirect limit, and a byte limit
 * enforced while streaming. Every failure comes back as a reason, never a throw.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { FailureReason } from '../../shared/protocol.ts';
import type { DownloadSettings } from '../config.ts';
import { addressCheckFor, BlockedAddressError, guardedLookup, type AddressCheck } from './addressPolicy.ts';

export type FetchResult =
  | { ok: true; data: Buffer; contentType: string | null; finalUrl: string }
  | { ok: false; reason: FailureReason; detail: string; retryable: boolean };

type Fail = Extract<FetchResult, { ok: false }>;

const fail = (reason: FailureReason, detail: string, retryable = false): Fail => ({ ok: false, reason, detail, retryable });

/** Checks a URL before anything is sent; returns the parsed URL or the reason it is refused. */
export function checkUrl(raw: string, allowed: AddressCheck): URL | Fail {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('bad_url', 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('bad_url', `${url.protocol} URLs are not downloaded, only http and https`);
  if (url.username || url.password) return fail('bad_url', 'URLs with credentials are not downloaded');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !allowed(host)) {
    return fail('blocked_address', `${host} is a loopback, private or link-local address`);
  }
  if (!allowed('127.0.0.1') && (host === 'localhost' || host.endsWith('.localhost'))) {
    return fail('blocked_address', `${host} is the local machine`);
  }
  return url;
}

class TimeoutError extends Error {}
class TooLargeError extends Error {}

function fetchOnce(url: URL, settings: DownloadSettings, deadline: number, signal?: AbortSignal): Promise<
  { kind: 'redirect'; location: string } | { kind: 'body'; data: Buffer; contentType: string | null; status: number } | Fail
> {
  return new Promise((resolve) => {
    const client = url.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (value: Parameters<typeof resolve>[0]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const req = client.request(url, {
      method: 'GET',
      headers: {
        'user-agent': settings.userAgent,
        accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8',
        'accept-language': 'en-US,en;q=0.9',
      },
      lookup: guardedLookup(addressCheckFor(settings)) as unknown as http.RequestOptions['lookup'],
      // A fresh connection per request: the address check must run for every download.
      agent: false,
    });
    const onAbort = (): void => {
      req.destroy();
      finish(fail('network', 'cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const totalTimer = setTimeout(() => req.destroy(new TimeoutError(`no complete answer within ${settings.totalTimeoutMs} ms`)), Math.max(0, deadline - Date.now()));
    const connectTimer = setTimeout(() => req.destroy(new TimeoutError(`no connection within ${settings.connectTimeoutMs} ms`)), settings.connectTimeoutMs);
    req.on('socket', (socket) => {
      const connected = (): void => clearTimeout(connectTimer);
      if (!socket.connecting) connected();
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof TimeoutError) return finish(fail('timeout', err.message, true));
      if (err instanceof TooLargeError) return finish(fail('too_large', err.message));
      if (err instanceof BlockedAddressError || err.code === 'EBLOCKEDADDRESS') return finish(fail('blocked_address', err.message));
      const transient = ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED'].includes(err.code ?? '');
      finish(fail('network', `${err.code ?? 'error'}: ${err.message}`, transient));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        return finish({ kind: 'redirect', location: res.headers.location });
      }
      if (status < 200 || status >= 300) {
        res.resume();
        return finish(fail('http_status', `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, status >= 500 || status === 429));
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > settings.maxBytes) {
        req.destroy(new TooLargeError(`the server announced ${declared} bytes, over the limit of ${settings.maxBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > settings.maxBytes) {
          req.destroy(new TooLargeError(`the body passed the limit of ${settings.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (res.complete) finish({ kind: 'body', data: Buffer.concat(chunks), contentType: res.headers['content-type'] ?? null, status });
        else finish(fail('network', 'the connection closed before the body was complete', true));
      });
      res.on('aborted', () => finish(fail('network', 'the connection closed before the body was complete', true)));
    });
    req.end();
  });
}

/** Fetches a URL once, following redirects, each hop checked like the first. */
export async function fetchUrl(raw: string, settings: DownloadSettings, signal?: AbortSignal): Promise<FetchResult> {
  const allowed = addressCheckFor(settings);
  let current = checkUrl(raw, allowed);
  if (!(current instanceof URL)) return current;
  const deadline = Date.now() + settings.totalTimeoutMs;
  for (let hop = 0; hop <= settings.maxRedirects; hop++) {
    const result = await fetchOnce(current, settings, deadline, signal);
    if ('ok' in result) return result;
    if (result.kind === 'body') return { ok: true, data: result.data, contentType: result.contentType, finalUrl: current.href };
    let next: URL | Fail;
    try {
      next = checkUrl(new URL(result.location, current).href, allowed);
    } catch {
      return fail('bad_url', `redirect to an invalid location: ${result.location}`);
    }
    if (!(next instanceof URL)) return next;
    current = next;
  }
  return fail('redirect_limit', `more than ${settings.maxRedirects} redirects`);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** fetchUrl with retries and exponential backoff for what may pass (5xx, 429, timeouts, resets). */
export async function fetchWithRetries(
  raw: string,
  settings: DownloadSettings,
  signal?: AbortSignal,
): Promise<FetchResult & { attempts: number }> {
  let attempt = 0;
  for (;;) {
    attempt++;
    const result = await fetchUrl(raw, settings, signal);
    if (result.ok || !result.retryable || attempt > settings.retries || signal?.aborted) {
      if (!result.ok && attempt > 1) result.detail = `${result.detail} (after ${attempt} attempts)`;
      return { ...result, attempts: attempt };
    }
    await sleep(settings.retryBaseDelayMs * 2 ** (attempt - 1), signal);
  }
}
