/** Background preparation: keeps `depth` items in flight ahead of the consumer. */
export async function* prefetch<T>(source: AsyncIterable<T>, depth = 2): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const ahead: Promise<IteratorResult<T>>[] = [];
  // Rejections are observed when consumed; mark them handled so a cancelled run cannot crash.
  const pull = () => {
    const p = iterator.next();
    p.catch(() => undefined);
    ahead.push(p);
  };
  for (let i = 0; i < depth; i++) pull();
  try {
    for (;;) {
      const next = await (ahead.shift() as Promise<IteratorResult<T>>);
      if (next.done) return;
      pull();
      yield next.value;
    }
  } finally {
    await iterator.return?.(undefined);
  }
}

/** Lets timers and sockets run between synchronous compute steps. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
