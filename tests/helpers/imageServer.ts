/** A local HTTP server on 127.0.0.1 serving fixture routes for download tests. */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface LocalServer {
  /** http://127.0.0.1:<port>, no trailing slash. */
  origin: string;
  /** Requests per path (query left off), to show what a client asked for. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Serves `handler` on 127.0.0.1 at a free port, counting requests per path. `close` destroys
 * open sockets first: keep-alive connections from a daemon or a browser would otherwise hold
 * `server.close` open until they time out.
 */
export async function listenLocal(handler: Route): Promise<LocalServer> {
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface ImageServer {
  url(path: string): string;
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startImageServer(routes: Record<string, Route>): Promise<ImageServer> {
  const local = await listenLocal((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0]!];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    route(req, res);
  });
  return { url: (path) => `${local.origin}${path}`, hits: local.hits, close: local.close };
}

export const serveBytes =
  (data: Buffer, contentType = 'image/jpeg', delayMs = 0): Route =>
  (_req, res) => {
    const send = (): void => {
      res.writeHead(200, { 'content-type': contentType, 'content-length': data.length });
      res.end(data);
    };
    if (delayMs) setTimeout(send, delayMs);
    else send();
  };
