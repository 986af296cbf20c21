import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ProtocolError, type TeddyClient } from '../../shared/client.ts';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../../shared/protocol.ts';
import { EXTENSION_ORIGINS } from '../../daemon/config.ts';
import { connectClient, openAuthenticated, rawSocket, startDaemonProcess, tempDataDir, type DaemonProcess } from '../helpers/daemonProcess.ts';

let daemon: DaemonProcess;
let bystander: TeddyClient;

/** A raw socket to this file's daemon, to send what no well-behaved client would. */
const socket = (headers: Record<string, string> = {}): Promise<WebSocket> => rawSocket(daemon.port, headers);

function nextFrame(ws: WebSocket): Promise<any> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()))));
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function authenticated(): Promise<WebSocket> {
  const { ws, hello } = await openAuthenticated(daemon.port, daemon.token);
  expect(hello).toMatchObject({ id: 'hello', type: 'hello.ok' });
  return ws;
}

beforeAll(async () => {
  daemon = await startDaemonProcess(tempDataDir());
  bystander = await daemon.client();
});

afterAll(async () => {
  bystander?.close();
  await daemon?.stop();
});

describe('who may talk to the daemon', () => {
  it('stores the pairing token readable by the user alone', () => {
    expect(statSync(join(daemon.dataDir, 'token')).mode & 0o777).toBe(0o600);
  });

  it('rejects a wrong token with a clear error and closes the connection', async () => {
    const ws = await socket();
    const closing = closed(ws);
    ws.send(JSON.stringify({ id: 'h', type: 'hello', protocolVersion: PROTOCOL_VERSION, token: 'guess' }));
    const reply = await nextFrame(ws);
    expect(reply).toMatchObject({ id: 'h', type: 'error', error: { code: 'unauthorized' } });
    expect(reply.error.message).toMatch(/teddy token/);
    expect((await closing).code).toBe(4401);
  });

  it('answers nothing but "unauthorized" before the hello', async () => {
    const ws = await socket();
    ws.send(JSON.stringify({ id: 2, type: 'dataset.list' }));
    expect(await nextFrame(ws)).toMatchObject({ id: 2, type: 'error', error: { code: 'unauthorized' } });
    ws.close();
  });

  it('refuses a web page origin at the handshake', async () => {
    await expect(socket({ origin: 'https://evil.example' })).rejects.toThrow(/403/);
  });

  it('refuses a forged Host (DNS rebinding) at the handshake', async () => {
    await expect(socket({ host: 'attacker.example:80' })).rejects.toThrow(/403/);
  });

  it('accepts the extension origin with the token', async () => {
    const client = await connectClient(daemon.port, daemon.token, { origin: EXTENSION_ORIGINS[0]! });
    expect((await client.request('dataset.list', {})).datasets).toEqual([]);
    client.close();
  });

  it('refuses a client that speaks another protocol version', async () => {
    const ws = await socket();
    ws.send(JSON.stringify({ id: 1, type: 'hello', protocolVersion: 99, token: daemon.token }));
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', error: { code: 'version_mismatch' } });
  });
});

describe('bad frames get an error and never a crash', () => {
  it('answers malformed JSON with bad_json and keeps the connection', async () => {
    const ws = await authenticated();
    ws.send('{"id": 1, "type": ');
    expect(await nextFrame(ws)).toMatchObject({ id: null, type: 'error', error: { code: 'bad_json' } });
    ws.send(JSON.stringify({ id: 3, type: 'dataset.list' }));
    expect(await nextFrame(ws)).toMatchObject({ id: 3, type: 'dataset.list.ok' });
    ws.close();
  });

  it('answers an unknown message type with unknown_type', async () => {
    const ws = await authenticated();
    ws.send(JSON.stringify({ id: 4, type: 'model.steal' }));
    expect(await nextFrame(ws)).toMatchObject({ id: 4, type: 'error', error: { code: 'unknown_type' } });
    ws.close();
  });

  it('answers a frame without id or type with bad_message', async () => {
    const ws = await authenticated();
    ws.send(JSON.stringify([1, 2, 3]));
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', error: { code: 'bad_message' } });
    ws.close();
  });

  it('answers wrong parameter types with invalid_params naming the field', async () => {
    const ws = await authenticated();
    ws.send(JSON.stringify({ id: 5, type: 'urls.add', dataset: 'x', items: [{ url: 42, className: '../etc' }] }));
    const reply = await nextFrame(ws);
    expect(reply).toMatchObject({ id: 5, type: 'error', error: { code: 'invalid_params' } });
    expect(reply.error.message).toMatch(/items\.0\.url/);
    ws.close();
  });

  it('answers a binary frame with bad_message', async () => {
    const ws = await authenticated();
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', error: { code: 'bad_message' } });
    ws.close();
  });

  it('closes a connection that sends an oversized frame with status 1009', async () => {
    const ws = await authenticated();
    const closing = closed(ws);
    ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
    expect((await closing).code).toBe(1009);
  });

  it('refuses class names that could escape a folder', async () => {
    await bystander.request('dataset.create', { name: 'safe' });
    await expect(bystander.request('class.create', { dataset: 'safe', name: '../../etc' })).rejects.toMatchObject({ code: 'invalid_params' });
    await expect(bystander.request('dataset.create', { name: '..' })).rejects.toBeInstanceOf(ProtocolError);
  });

  it('kept serving its other client through all of the above', async () => {
    const status = await bystander.request('status', {});
    expect(status.pid).toBe(daemon.child.pid);
    expect(daemon.child.exitCode).toBeNull();
  });
});

describe('token guessing', () => {
  it('is refused for a minute after too many wrong tokens, even with the right one', async () => {
    for (let i = 0; i < 12; i++) {
      const ws = await socket();
      ws.send(JSON.stringify({ id: i, type: 'hello', protocolVersion: PROTOCOL_VERSION, token: `guess-${i}` }));
      await nextFrame(ws);
    }
    const ws = await socket();
    ws.send(JSON.stringify({ id: 'right', type: 'hello', protocolVersion: PROTOCOL_VERSION, token: daemon.token }));
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', error: { code: 'busy' } });
    // Already-paired clients are not affected.
    expect((await bystander.request('dataset.list', {})).datasets.length).toBe(1);
  });
});
