/**
 * A protocol client over any WebSocket with the browser's API (the browser's own,
 * or `ws` in Node), used by the CLI and the extension alike. Every frame from the
 * daemon is validated before it is believed.
 */
import {
  PROTOCOL_VERSION,
  ServerFrameEnvelope,
  requests,
  type ErrorBody,
  type Event,
  type RequestParams,
  type RequestResult,
  type RequestType,
} from './protocol.ts';

/** The part of the WebSocket API the client needs. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}

export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorBody['code'],
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class ConnectionClosedError extends Error {
  constructor(
    readonly closeCode: number | undefined,
    readonly reason: string,
  ) {
    super(`connection to the daemon closed${closeCode ? ` (${closeCode}${reason ? `: ${reason}` : ''})` : ''}`);
  }
}

interface Pending {
  type: RequestType;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class TeddyClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<(event: Event) => void>();
  private readonly errorListeners = new Set<(error: ErrorBody) => void>();
  private closed: ConnectionClosedError | undefined;
  /** What the daemon said in answer to the hello: its version and protocol. */
  hello: RequestResult<'hello'> | undefined;

  constructor(private readonly socket: SocketLike) {
    socket.addEventListener('message', (e) => this.onMessage(e.data));
    socket.addEventListener('close', (e) => this.onClose(e.code, e.reason ?? ''));
  }

  /** Waits for the socket to open, then authenticates with the token. */
  static async connect(socket: SocketLike, token: string, client = { name: 'teddy', version: '0' }): Promise<TeddyClient> {
    const instance = new TeddyClient(socket);
    if (socket.readyState !== 1) {
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener('open', () => resolve());
        socket.addEventListener('error', () => reject(new ConnectionClosedError(undefined, 'could not connect to the daemon')));
        socket.addEventListener('close', (e) => reject(new ConnectionClosedError(e.code, e.reason ?? '')));
      });
    }
    instance.hello = await instance.request('hello', { protocolVersion: PROTOCOL_VERSION, token, client });
    return instance;
  }

  request<T extends RequestType>(type: T, params: RequestParams<T>): Promise<RequestResult<T>> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise<RequestResult<T>>((resolve, reject) => {
      this.pending.set(id, { type, resolve: resolve as (v: unknown) => void, reject });
      this.socket.send(JSON.stringify({ ...params, id, type }));
    });
  }

  onEvent(listener: (event: Event) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Errors the daemon sent without a request id (e.g. for a frame it could not parse). */
  onUnsolicitedError(listener: (error: ErrorBody) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  close(): void {
    this.socket.close(1000, 'bye');
  }

  private onMessage(data: unknown): void {
    let raw: unknown;
    try {
      raw = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    const frame = ServerFrameEnvelope.safeParse(raw);
    if (!frame.success) return;
    const value = frame.data;
    if (value.type === 'event' && 'event' in value) {
      for (const listener of this.eventListeners) listener(value.event);
      return;
    }
    if (value.type === 'error' && 'error' in value) {
      const pending = typeof value.id === 'number' ? this.pending.get(value.id) : undefined;
      if (!pending) {
        for (const listener of this.errorListeners) listener(value.error);
        return;
      }
      this.pending.delete(value.id as number);
      pending.reject(new ProtocolError(value.error.code, value.error.message, value.error.details));
      return;
    }
    if ('result' in value && typeof value.id === 'number') {
      const pending = this.pending.get(value.id);
      if (!pending) return;
      this.pending.delete(value.id);
      const result = requests[pending.type].result.safeParse(value.result);
      if (result.success) pending.resolve(result.data);
      else pending.reject(new ProtocolError('bad_message', `the daemon sent an invalid "${pending.type}" result`));
    }
  }

  private onClose(code: number | undefined, reason: string): void {
    this.closed = new ConnectionClosedError(code, reason);
    for (const pending of this.pending.values()) pending.reject(this.closed);
    this.pending.clear();
  }
}
