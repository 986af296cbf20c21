import { describe, expect, it } from 'vitest';
import type { SocketLike } from '../../shared/client.ts';
import type { LinkState } from '../messages.ts';
import { DaemonLink, type Timers } from './connection.ts';

/** A fake daemon socket: answers hello/status/dataset requests according to `mode`. */
class FakeSocket implements SocketLike {
  readyState = 0;
  private listeners = new Map<string, ((e: { data?: unknown; code?: number; reason?: string }) => void)[]>();
  constructor(private readonly mode: 'down' | 'ok' | 'wrong-token') {
    queueMicrotask(() => {
      if (mode === 'down') {
        this.emit('error', {});
        this.emit('close', { code: 1006, reason: '' });
      } else {
        this.readyState = 1;
        this.emit('open', {});
      }
    });
  }
  addEventListener(type: string, listener: (e: { data?: unknown; code?: number; reason?: string }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  emit(type: string, e: { data?: unknown; code?: number; reason?: string }): void {
    for (const l of this.listeners.get(type) ?? []) l(e);
  }
  send(data: string): void {
    const frame = JSON.parse(data) as { id: number; type: string };
    queueMicrotask(() => {
      if (frame.type === 'status') {
        // Its shape changes as the daemon grows; the link must not depend on it.
        this.emit('message', { data: JSON.stringify({ id: frame.id, type: 'error', error: { code: 'internal', message: 'no' } }) });
        return;
      }
      if (frame.type === 'hello' && this.mode === 'wrong-token') {
        this.emit('message', { data: JSON.stringify({ id: frame.id, type: 'error', error: { code: 'unauthorized', message: 'wrong token' } }) });
        this.close(4401, 'unauthorized');
        return;
      }
      const results: Record<string, unknown> = {
        hello: { protocolVersion: 1, daemonVersion: '9.9.9' },
        'dataset.list': { datasets: [] },
      };
      this.emit('message', { data: JSON.stringify({ id: frame.id, type: `${frame.type}.ok`, result: results[frame.type] }) });
    });
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.emit('close', { code, reason }));
  }
}

/** Manual clock: timers fire only when the test advances time. */
function manualTimers() {
  let now = 0;
  let next = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      pending.set(++next, { at: now + ms, fn });
      return next;
    },
    clearTimeout: (h) => void pending.delete(h as number),
    now: () => now,
  };
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return {
    timers,
    /** Delays of the pending timers, soonest first. */
    delays: () => [...pending.values()].map((p) => p.at - now).sort((a, b) => a - b),
    async advance(ms: number) {
      const target = now + ms;
      for (;;) {
        await flush();
        const due = [...pending.entries()].filter(([, p]) => p.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = target;
      await flush();
    },
  };
}

describe('daemon connection', () => {
  it('retries with growing, capped backoff while the daemon is down, then connects and resets', async () => {
    const clock = manualTimers();
    let mode: 'down' | 'ok' = 'down';
    const states: LinkState[] = [];
    const link = new DaemonLink({
      createSocket: () => new FakeSocket(mode),
      clientInfo: { name: 't', version: '0' },
      onState: (s) => states.push(s),
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      random: () => 0.5,
      keepaliveMs: 20_000,
      timers: clock.timers,
    });
    link.configure({ address: 'ws://127.0.0.1:1', token: 'tok' });
    const retries: number[] = [];
    for (let i = 0; i < 6; i++) {
      await clock.advance(0);
      expect(link.state.status).toBe('disconnected');
      retries.push(link.state.retryAt! - clock.timers.now());
      await clock.advance(retries.at(-1)!);
    }
    expect(retries).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    mode = 'ok';
    await clock.advance(8000);
    expect(link.state.status).toBe('connected');
    expect(link.backoffDelay()).toBe(1000);
    expect(states.some((s) => s.status === 'connecting')).toBe(true);
    link.close();
  });

  it('stops retrying when the token is refused, and starts again when re-paired', async () => {
    const clock = manualTimers();
    let mode: 'wrong-token' | 'ok' = 'wrong-token';
    const link = new DaemonLink({ createSocket: () => new FakeSocket(mode), clientInfo: { name: 't', version: '0' }, timers: clock.timers });
    link.configure({ address: 'ws://127.0.0.1:1', token: 'bad' });
    await clock.advance(0);
    expect(link.state.status).toBe('unauthorized');
    await clock.advance(120_000);
    expect(link.state.status).toBe('unauthorized');
    await expect(link.request('dataset.list', {})).rejects.toThrow(/refused the token/);
    mode = 'ok';
    link.configure({ address: 'ws://127.0.0.1:1', token: 'good' });
    await clock.advance(0);
    expect(link.state.status).toBe('connected');
    await expect(link.request('dataset.list', {})).resolves.toEqual({ datasets: [] });
    link.close();
  });
});
