/**
 * Turns the engine's `onEvent` callback into an async iterator for consumers that prefer
 * `for await`. The run never waits for the consumer: events queue up (or are dropped
 * beyond `maxQueued`, oldest batch events first) so a slow or vanished client cannot stall
 * or stop training.
 */
import type { EngineEvent } from './learner.ts';

export interface EventStream<R> {
  events: AsyncIterable<EngineEvent>;
  result: Promise<R>;
}

export function withEventStream<R>(run: (onEvent: (e: EngineEvent) => void) => Promise<R>, maxQueued = 10_000): EventStream<R> {
  const queue: EngineEvent[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onEvent = (e: EngineEvent) => {
    queue.push(e);
    if (queue.length > maxQueued) {
      const i = queue.findIndex((q) => q.type === 'batch' || q.type === 'features' || q.type === 'lr-find');
      queue.splice(i >= 0 ? i : 0, 1);
    }
    notify();
  };
  const result = run(onEvent).finally(() => {
    finished = true;
    notify();
  });
  // The caller may only read `events`; the outcome is still observed through `result`.
  result.catch(() => undefined);
  const events: AsyncIterable<EngineEvent> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length) yield queue.shift() as EngineEvent;
        if (finished) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
  return { events, result };
}
