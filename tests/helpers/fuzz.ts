/**
 * Protocol fuzzing against a running daemon: random JSON, mutated valid requests of every
 * type, huge strings, deep nesting and binary frames. Used by the fuzz test and by the
 * reliability benchmark (which runs many more).
 */
import fc from 'fast-check';
import WebSocket from 'ws';
import { MAX_FRAME_BYTES, REQUEST_TYPES } from '../../shared/protocol.ts';
import { openAuthenticated } from './daemonProcess.ts';

/** Requests that name folders on the daemon's machine: exercised by their own tests, never with random paths. */
const PATH_REQUESTS = new Set(['job.import', 'job.export', 'model.export', 'model.import', 'backbone.import']);

/** A valid-looking request per type, for mutation. */
const TEMPLATES: Record<string, Record<string, unknown>> = {
  status: {},
  'dataset.create': { name: 'fuzz' },
  'dataset.list': {},
  'dataset.stats': { dataset: 'fuzz' },
  'class.list': { dataset: 'fuzz' },
  'class.create': { dataset: 'fuzz', name: 'a' },
  'urls.add': { dataset: 'fuzz', items: [{ url: 'http://127.0.0.1:9/x.jpg', className: 'a' }] },
  'images.list': { dataset: 'fuzz', limit: 5 },
  'images.trash': { dataset: 'fuzz', ids: [1] },
  'images.restore': { dataset: 'fuzz', ids: [1] },
  'images.relabel': { dataset: 'fuzz', ids: [1], className: 'b' },
  'images.review': { dataset: 'fuzz', ids: [1] },
  'images.undo': { dataset: 'fuzz' },
  'images.thumbnails': { dataset: 'fuzz', ids: [1] },
  'dataset.duplicates': { dataset: 'fuzz' },
  'job.get': { jobId: 1 },
  'job.list': {},
  'job.cancel': { jobId: 1 },
  'train.report': { dataset: 'fuzz' },
  'interpret.get': { dataset: 'fuzz' },
  'model.list': { dataset: 'fuzz' },
  'predict.urls': { dataset: 'fuzz', urls: ['http://127.0.0.1:9/x.jpg'] },
  'predict.image': { dataset: 'fuzz', data: 'AAAA' },
};

const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 50 }),
  fc.integer(),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.constant(-1),
  fc.constant('../../../etc/passwd'),
  fc.constant('\u0000\u202e'),
  fc.constant(null),
);

/** Nested arrays `depth` deep, to probe recursion in parsers and validators. */
export function deepNesting(depth: number): string {
  return `{"id":"deep","type":"status","x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

export const fuzzFrame: fc.Arbitrary<{ text?: string; binary?: Buffer }> = fc.oneof(
  // Anything at all that parses as JSON.
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
  // Not JSON.
  fc.string({ maxLength: 200 }).map((text) => ({ text })),
  // A real request type, its fields replaced, dropped or added at random.
  fc
    .record({
      type: fc.constantFrom(...REQUEST_TYPES.filter((t) => !PATH_REQUESTS.has(t) && t !== 'hello')),
      id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.constant({})),
      drop: fc.boolean(),
      extra: fc.dictionary(fc.string({ maxLength: 8 }), fieldValue, { maxKeys: 3 }),
      replace: fc.option(fc.tuple(fc.string({ maxLength: 8 }), fieldValue)),
    })
    .map(({ type, id, drop, extra, replace }) => {
      const body: Record<string, unknown> = { ...(TEMPLATES[type] ?? {}), ...extra };
      const keys = Object.keys(body);
      if (drop && keys.length) delete body[keys[0]!];
      if (replace) body[keys.length ? keys[Math.abs(replace[0].length) % keys.length]! : replace[0]] = replace[1];
      return { text: JSON.stringify({ ...body, id, type }) };
    }),
  // Huge strings, just under and around the frame limit.
  fc.integer({ min: 1, max: 4 }).map((k) => ({ text: JSON.stringify({ id: 'big', type: 'dataset.create', name: 'x'.repeat(k * 200_000) }) })),
  fc.integer({ min: 100, max: 5000 }).map((depth) => ({ text: deepNesting(depth) })),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ binary: Buffer.from(bytes) })),
);

export interface FuzzOutcome {
  messages: number;
  reconnects: number;
  unanswered: number;
}

/** Sends `count` fuzzed frames over authenticated connections; checks each id'd request gets its one reply. */
export async function fuzzDaemon(port: number, token: string, count: number, seed = 42): Promise<FuzzOutcome> {
  const frames = fc.sample(fuzzFrame, { numRuns: count, seed });
  let reconnects = 0;
  let unanswered = 0;
  let ws = await open(port, token);
  for (let i = 0; i < frames.length; i++) {
    if (ws.readyState !== WebSocket.OPEN) {
      reconnects++;
      ws = await open(port, token);
    }
    const frame = frames[i]!;
    if (frame.binary) ws.send(frame.binary, { binary: true });
    else if (frame.text!.length < MAX_FRAME_BYTES) ws.send(frame.text!);
    // Every 25 frames, a marker request must still be answered on this connection.
    if (i % 25 === 24) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const marker = `marker-${i}`;
      const answered = await new Promise<boolean>((resolve) => {
        const finish = (result: boolean): void => {
          clearTimeout(timer);
          ws.off('message', onMessage);
          ws.off('close', onClose);
          resolve(result);
        };
        const timer = setTimeout(() => finish(false), 10_000);
        const onMessage = (data: WebSocket.RawData): void => {
          if ((JSON.parse(data.toString()) as { id?: unknown }).id === marker) finish(true);
        };
        // A connection the daemon closed (a protocol violation) has answered in its own way.
        const onClose = (): void => finish(true);
        ws.on('message', onMessage);
        ws.on('close', onClose);
        ws.send(JSON.stringify({ id: marker, type: 'status' }));
      });
      if (!answered) unanswered++;
    }
  }
  ws.close();
  return { messages: frames.length, reconnects, unanswered };
}

async function open(port: number, token: string): Promise<WebSocket> {
  const { ws } = await openAuthenticated(port, token);
  // Fuzzed frames make the daemon drop the connection; that shows up as a reconnect, not a crash.
  ws.on('error', () => {});
  return ws;
}
