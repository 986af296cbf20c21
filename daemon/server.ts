/**
 * The websocket transport: loopback only, browser origins limited to the extension,
 * a token before anything else, every frame validated, per-connection backpressure.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  parseRequest,
  requests,
  type ErrorBody,
  type Event,
  type RequestType,
  type ServerFrame,
} from '../shared/protocol.ts';
import { handlers, type HandlerContext } from './handlers.ts';
import { DaemonError } from './services/errors.ts';
import { NotFoundError } from './store/store.ts';
import { DAEMON_VERSION } from './version.ts';

/** Requests one connection may have in flight; more are refused with `busy`. */
const MAX_IN_FLIGHT = 32;
/** Progress events are skipped for a client this far behind; it gets the next one. */
const EVENT_SKIP_BUFFERED_BYTES = 1024 * 1024;
/** A client this far behind is not reading at all: it is disconnected. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Failed hellos allowed per minute, daemon-wide, before hellos are refused for the rest of it. */
const MAX_AUTH_FAILURES_PER_MINUTE = 10;

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_VERSION = 4426;
export const CLOSE_SLOW_CONSUMER = 4429;

interface Connection {
  ws: WebSocket;
  authenticated: boolean;
  inFlight: number;
}

export interface ServerOptions {
  host: string;
  port: number;
  token: string;
  allowedOrigins: string[];
  context: Omit<HandlerContext, 'clientCount'>;
  log?: (message: string) => void;
}

export interface RunningServer {
  port: number;
  broadcast(event: Event): void;
  close(): Promise<void>;
}

function tokensMatch(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Hosts a browser may use to reach a loopback server; anything else is a DNS-rebinding attempt. */
function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return true;
  const host = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? (() => {});
  const connections = new Set<Connection>();
  const authFailures: number[] = [];
  const context: HandlerContext = { ...options.context, clientCount: () => connections.size };

  const httpServer = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('Teddy daemon: connect with a websocket.\n');
  });

  const wss = new WebSocketServer({
    server: httpServer,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    verifyClient: (info, done) => {
      const origin = info.req.headers.origin;
      if (!isLoopbackHost(info.req.headers.host)) {
        log(`refused a connection for host ${info.req.headers.host}`);
        return done(false, 403, 'Forbidden: unexpected Host');
      }
      // Browsers always send an Origin; only the extension's is welcome. Programs (the CLI) send none and use the token.
      if (origin !== undefined && !options.allowedOrigins.includes(origin)) {
        log(`refused a connection from origin ${origin}`);
        return done(false, 403, 'Forbidden: origin not allowed');
      }
      done(true);
    },
  });

  /** Sends an already-serialised frame, so that a broadcast serialises once for all connections. */
  const sendText = (conn: Connection, text: string): void => {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    if (conn.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      conn.ws.close(CLOSE_SLOW_CONSUMER, 'client is not reading its messages');
      return;
    }
    conn.ws.send(text);
  };

  const send = (conn: Connection, frame: ServerFrame): void => sendText(conn, JSON.stringify(frame));

  const sendError = (conn: Connection, id: string | number | null, error: ErrorBody): void => send(conn, { id, type: 'error', error });

  const handleHello = (conn: Connection, id: string | number, params: { protocolVersion: number; token: string }): void => {
    const now = Date.now();
    while (authFailures.length && authFailures[0]! < now - 60_000) authFailures.shift();
    if (authFailures.length >= MAX_AUTH_FAILURES_PER_MINUTE) {
      sendError(conn, id, { code: 'busy', message: 'too many failed pairing attempts; try again in a minute' });
      conn.ws.close(CLOSE_UNAUTHORIZED, 'too many failed attempts');
      return;
    }
    if (!tokensMatch(params.token, options.token)) {
      authFailures.push(now);
      sendError(conn, id, { code: 'unauthorized', message: 'wrong token: run `teddy token` to see the pairing token' });
      conn.ws.close(CLOSE_UNAUTHORIZED, 'wrong token');
      return;
    }
    if (params.protocolVersion !== PROTOCOL_VERSION) {
      sendError(conn, id, {
        code: 'version_mismatch',
        message: `this daemon speaks protocol ${PROTOCOL_VERSION}, the client speaks ${params.protocolVersion}: update the older one`,
      });
      conn.ws.close(CLOSE_VERSION, 'protocol version mismatch');
      return;
    }
    conn.authenticated = true;
    send(conn, { id, type: 'hello.ok', result: { protocolVersion: PROTOCOL_VERSION, daemonVersion: DAEMON_VERSION } });
  };

  const dispatch = async (conn: Connection, id: string | number, type: Exclude<RequestType, 'hello'>, params: unknown): Promise<void> => {
    conn.inFlight++;
    try {
      const handler = handlers[type] as (p: unknown, c: HandlerContext) => unknown;
      const result: unknown = await handler(params, context);
      // The daemon checks its own answers too: a bug here must not reach the extension as bad data.
      const checked = requests[type].result.safeParse(result);
      if (!checked.success) throw new Error(`the daemon produced an invalid "${type}" result: ${checked.error.message}`);
      send(conn, { id, type: `${type}.ok`, result: checked.data } as ServerFrame);
    } catch (err) {
      if (err instanceof DaemonError) sendError(conn, id, { code: err.code, message: err.message, details: err.details });
      else if (err instanceof NotFoundError) sendError(conn, id, { code: 'not_found', message: err.message });
      else {
        log(`internal error in ${type}: ${(err as Error).stack ?? String(err)}`);
        sendError(conn, id, { code: 'internal', message: `internal error: ${(err as Error).message}` });
      }
    } finally {
      conn.inFlight--;
    }
  };

  const onMessage = (conn: Connection, data: RawData, isBinary: boolean): void => {
    if (isBinary) return sendError(conn, null, { code: 'bad_message', message: 'binary frames are not accepted; send JSON text' });
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      return sendError(conn, null, { code: 'bad_json', message: 'the frame is not valid JSON' });
    }
    const parsed = parseRequest(raw);
    if (!parsed.ok) return sendError(conn, parsed.id, parsed.error);
    if (parsed.type === 'hello') return handleHello(conn, parsed.id, parsed.params as { protocolVersion: number; token: string });
    if (!conn.authenticated) {
      sendError(conn, parsed.id, { code: 'unauthorized', message: 'send "hello" with the pairing token first' });
      return;
    }
    if (conn.inFlight >= MAX_IN_FLIGHT) {
      return sendError(conn, parsed.id, { code: 'busy', message: `more than ${MAX_IN_FLIGHT} requests in flight; wait for answers` });
    }
    void dispatch(conn, parsed.id, parsed.type, parsed.params);
  };

  wss.on('connection', (ws) => {
    const conn: Connection = { ws, authenticated: false, inFlight: 0 };
    connections.add(conn);
    ws.on('message', (data, isBinary) => {
      try {
        onMessage(conn, data, isBinary);
      } catch (err) {
        log(`error handling a frame: ${(err as Error).stack ?? String(err)}`);
        sendError(conn, null, { code: 'internal', message: 'internal error' });
      }
    });
    // ws reports protocol violations (an oversized frame among them) here before closing with a status code.
    ws.on('error', (err) => log(`connection error: ${err.message}`));
    ws.on('close', () => connections.delete(conn));
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });

  return {
    port: (httpServer.address() as AddressInfo).port,
    broadcast(event: Event) {
      let text: string | undefined;
      for (const conn of connections) {
        if (!conn.authenticated) continue;
        // Progress is a state, not a log: a lagging client can skip to the next one.
        if (event.kind === 'job.progress' && conn.ws.bufferedAmount > EVENT_SKIP_BUFFERED_BYTES) continue;
        text ??= JSON.stringify({ type: 'event', event } satisfies ServerFrame);
        sendText(conn, text);
      }
    },
    async close() {
      for (const conn of connections) conn.ws.close(1001, 'daemon shutting down');
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const conn of connections) conn.ws.terminate();
      httpServer.closeAllConnections();
      await closed;
    },
  };
}
