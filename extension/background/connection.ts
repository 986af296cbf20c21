/**
 * The background's one connection to the daemon: connect, authenticate, keep it
 * alive, and reconnect with exponential backoff when it drops. Everything else in
 * the extension talks to the daemon through this.
 */
import { ConnectionClosedError, ProtocolError, TeddyClient, type SocketLike } from '../../shared/client.ts';
import type { Event, RequestParams, RequestResult, RequestType } from '../../shared/protocol.ts';
import type { LinkState } from '../messages.ts';

export interface Target {
  address: string;
  token: string;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export interface LinkOptions {
  createSocket(url: string): SocketLike;
  clientInfo: { name: string; version: string };
  onState?(state: LinkState): void;
  onEvent?(event: Event): void;
  /** Runs after each successful hello, before the state turns `connected`. */
  onConnected?(client: TeddyClient): Promise<void> | void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * A request this often keeps the socket busy: Chrome (116+) keeps an extension
   * service worker alive while its WebSocket exchanges messages, and stops it after
   * 30 s of silence.
   */
  keepaliveMs?: number;
  connectTimeoutMs?: number;
  random?: () => number;
  timers?: Timers;
}

export class NotConnectedError extends Error {
  readonly code = 'not_connected';
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

export class DaemonLink {
  private target: Target | null = null;
  private client: TeddyClient | null = null;
  private socket: SocketLike | null = null;
  private failures = 0;
  private retryTimer: unknown = null;
  private keepaliveTimer: unknown = null;
  /** Bumped on every (re)configuration so that stale attempts know to give up. */
  private generation = 0;
  private current: LinkState = { status: 'unpaired', address: null, message: null, retryAt: null, daemonVersion: null };
  private readonly timers: Timers;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly options: LinkOptions) {
    this.timers = options.timers ?? defaultTimers;
  }

  get state(): LinkState {
    return this.current;
  }

  /** Points the link at a daemon (or at none) and connects now, forgetting earlier failures. */
  configure(target: Target | null): void {
    this.generation++;
    this.target = target;
    this.failures = 0;
    this.teardown();
    if (!target) {
      this.setState({ status: 'unpaired', address: null, message: null, retryAt: null, daemonVersion: null });
      return;
    }
    void this.connect();
  }

  /** Tries now if a retry is pending (e.g. the service worker just woke up). */
  poke(): void {
    if (this.current.status === 'disconnected' && this.target) {
      this.clearRetry();
      void this.connect();
    }
  }

  async request<T extends RequestType>(type: T, params: RequestParams<T>): Promise<RequestResult<T>> {
    if (!this.client) throw new NotConnectedError(this.describeNotConnected());
    return this.client.request(type, params);
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.client) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.timers.clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = this.timers.setTimeout(() => {
        this.waiters.delete(done);
        reject(new NotConnectedError(this.describeNotConnected()));
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  close(): void {
    this.generation++;
    this.target = null;
    this.teardown();
  }

  private describeNotConnected(): string {
    switch (this.current.status) {
      case 'unpaired':
        return 'not paired with the Teddy daemon yet: open the extension options and paste the token';
      case 'unauthorized':
        return 'the daemon refused the token: pair again in the options';
      default:
        return `not connected to the Teddy daemon${this.current.message ? ` (${this.current.message})` : ''}`;
    }
  }

  private async connect(): Promise<void> {
    const target = this.target;
    if (!target) return;
    const generation = this.generation;
    this.setState({ status: 'connecting', address: target.address, message: null, retryAt: null, daemonVersion: null });
    let socket: SocketLike;
    try {
      socket = this.options.createSocket(target.address);
    } catch (err) {
      this.fail(generation, err);
      return;
    }
    this.socket = socket;
    const timeout = this.timers.setTimeout(() => {
      if (generation === this.generation && !this.client) socket.close(1000, 'timeout');
    }, this.options.connectTimeoutMs ?? 10_000);
    try {
      const client = await TeddyClient.connect(socket, target.token, this.options.clientInfo);
      this.timers.clearTimeout(timeout);
      if (generation !== this.generation) {
        client.close();
        return;
      }
      socket.addEventListener('close', (e) => {
        if (generation !== this.generation || this.client !== client) return;
        this.client = null;
        this.socket = null;
        this.stopKeepalive();
        this.fail(generation, new ConnectionClosedError(e.code, e.reason ?? ''));
      });
      client.onEvent((event) => this.options.onEvent?.(event));
      // The version is for display only; a daemon whose status shape moved on must not cost the connection.
      const status = await client.request('status', {}).catch(() => null);
      if (this.options.onConnected) await this.options.onConnected(client);
      if (generation !== this.generation) return;
      this.client = client;
      this.failures = 0;
      this.startKeepalive(client, generation);
      this.setState({ status: 'connected', address: target.address, message: null, retryAt: null, daemonVersion: status?.daemonVersion ?? null });
      for (const waiter of [...this.waiters]) waiter();
    } catch (err) {
      this.timers.clearTimeout(timeout);
      try {
        socket.close(1000, 'bye');
      } catch {
        // Already closed.
      }
      this.fail(generation, err);
    }
  }

  private fail(generation: number, err: unknown): void {
    if (generation !== this.generation || !this.target) return;
    this.client = null;
    this.socket = null;
    const address = this.target.address;
    if (err instanceof ProtocolError && err.code === 'unauthorized') {
      this.setState({ status: 'unauthorized', address, message: err.message, retryAt: null, daemonVersion: null });
      return;
    }
    if (err instanceof ProtocolError && err.code === 'version_mismatch') {
      this.setState({ status: 'incompatible', address, message: err.message, retryAt: null, daemonVersion: null });
      return;
    }
    if (err instanceof ConnectionClosedError && err.closeCode === 4401) {
      this.setState({ status: 'unauthorized', address, message: err.reason || 'token refused', retryAt: null, daemonVersion: null });
      return;
    }
    this.failures++;
    // The daemon locks pairing for a minute after repeated failures: wait that out instead of adding to it.
    const lockedOut = err instanceof ProtocolError && err.code === 'busy';
    const delay = lockedOut ? 60_000 : this.backoffDelay();
    const retryAt = this.timers.now() + delay;
    const message = err instanceof Error ? err.message : String(err);
    this.setState({ status: 'disconnected', address, message, retryAt, daemonVersion: null });
    this.clearRetry();
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (generation === this.generation) void this.connect();
    }, delay);
  }

  /** Exponential backoff with ±20% jitter, so that many extensions do not retry in lockstep. */
  backoffDelay(): number {
    const base = this.options.baseDelayMs ?? 1000;
    const max = this.options.maxDelayMs ?? 30_000;
    const raw = Math.min(max, base * 2 ** Math.max(0, this.failures - 1));
    const jitter = 0.8 + 0.4 * (this.options.random ?? Math.random)();
    return Math.round(raw * jitter);
  }

  private startKeepalive(client: TeddyClient, generation: number): void {
    this.stopKeepalive();
    const every = this.options.keepaliveMs ?? 20_000;
    const tick = (): void => {
      if (generation !== this.generation || this.client !== client) return;
      client.request('dataset.list', {}).catch(() => {
        // A failed keepalive shows up as a close; the close handler reconnects.
      });
      this.keepaliveTimer = this.timers.setTimeout(tick, every);
    };
    this.keepaliveTimer = this.timers.setTimeout(tick, every);
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer !== null) this.timers.clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = null;
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private teardown(): void {
    this.clearRetry();
    this.stopKeepalive();
    const socket = this.socket;
    this.client = null;
    this.socket = null;
    if (socket) {
      try {
        socket.close(1000, 'reconfigured');
      } catch {
        // Already closed.
      }
    }
  }

  private setState(state: LinkState): void {
    this.current = state;
    this.options.onState?.(state);
  }
}
