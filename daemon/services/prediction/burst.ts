/**
 * When to cut a batch. Requests sent together can reach the daemon over several turns of
 * the event loop (a client's burst is read in chunks), so a batch is cut once a whole turn
 * brings nothing new, once it is full, or once `windowMs` have passed: a burst of 16 then
 * makes one batch, not 15 + 1, and a lone request waits one turn.
 */
export class BurstGate {
  private scheduled = false;

  constructor(
    private readonly waiting: () => number,
    private readonly cut: () => void,
    private readonly options: { maxBatch: number; windowMs: number },
  ) {}

  /** Called on each arrival; `cut` runs once per burst. */
  arrived(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const started = performance.now();
    let seen = 0;
    const check = (): void => {
      const waiting = this.waiting();
      if (waiting > seen && waiting < this.options.maxBatch && performance.now() - started < this.options.windowMs) {
        seen = waiting;
        setImmediate(check);
        return;
      }
      this.scheduled = false;
      this.cut();
    };
    setImmediate(check);
  }
}
