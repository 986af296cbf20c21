import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TeddyClient } from '../../shared/client.ts';
import { openAuthenticated, startDaemonProcess, tempDataDir, type DaemonProcess } from '../helpers/daemonProcess.ts';
import { deepNesting, fuzzDaemon } from '../helpers/fuzz.ts';
import { residentMb } from '../helpers/processMemory.ts';

/** The long variant (TEDDY_LONG_TESTS=1) sends many more. */
const MESSAGES = process.env.TEDDY_LONG_TESTS ? 20_000 : 1500;
let daemon: DaemonProcess;
let bystander: TeddyClient;

beforeAll(async () => {
  daemon = await startDaemonProcess(tempDataDir());
  bystander = await daemon.client();
});

afterAll(async () => {
  bystander?.close();
  await daemon?.stop();
});

describe('protocol fuzzing against the running daemon', () => {
  it(`survives ${MESSAGES} random and mutated frames, answering every marker request, with bounded memory`, async () => {
    // Warm up so the first measurement is not the daemon's start-up growth.
    await fuzzDaemon(daemon.port, daemon.token, 100, 1);
    const before = residentMb(daemon.child.pid!);
    const outcome = await fuzzDaemon(daemon.port, daemon.token, MESSAGES, 7);
    expect(outcome.unanswered).toBe(0);
    expect(daemon.child.exitCode).toBeNull();
    expect(residentMb(daemon.child.pid!) - before).toBeLessThan(150);
    expect(daemon.output()).not.toMatch(/unhandled|UnhandledPromiseRejection|TypeError/i);
  });

  it('answers deeply nested JSON without a stack overflow', async () => {
    const { ws } = await openAuthenticated(daemon.port, daemon.token);
    ws.send(deepNesting(100_000));
    const reply = await new Promise<{ type: string }>((r) => ws.once('message', (d) => r(JSON.parse(d.toString()))));
    expect(['error', 'status.ok']).toContain(reply.type);
    ws.close();
  });

  it('kept serving a well-behaved client throughout', async () => {
    const status = await bystander.request('status', {});
    expect(status.pid).toBe(daemon.child.pid);
  });
});
