/**
 * A one-slot doorbell: `ring()` wakes the current `wait()`, or the next one if nobody is waiting,
 * so a ring between two waits is never lost.
 */
export class Wakeup {
  #rung = false;
  #wake: (() => void) | undefined;

  ring(): void {
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = undefined;
      wake();
    } else {
      this.#rung = true;
    }
  }

  /** Resolves on a ring, after `ms`, or when `signal` aborts, whichever comes first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#rung || signal?.aborted) {
      this.#rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}
