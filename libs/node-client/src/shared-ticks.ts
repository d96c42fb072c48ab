/** Runs a callback every `intervalMs` until the returned function is called. */
export interface Ticks {
  every(intervalMs: number, run: () => void): () => void;
}

/** A timer of its own per callback: what one node in its own process needs. */
export const ownTimers: Ticks = {
  every(intervalMs, run) {
    const timer = setInterval(run, intervalMs);
    return () => clearInterval(timer);
  },
};

interface Periodic {
  at: number;
  intervalMs: number;
  run: () => void;
}

/**
 * Periodic callbacks of many virtual nodes on one shared timer: those due within one tick run in
 * the same turn of the event loop, so the messages they publish leave in one socket write. A
 * thousand nodes on their own timers made a write (and a wake-up of the NATS server) per
 * heartbeat, a quarter of the simulator's time. A callback runs up to `tickMs` late.
 */
export class SharedTicks implements Ticks {
  readonly #periodic = new Set<Periodic>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly tickMs = 10) {}

  every(intervalMs: number, run: () => void): () => void {
    const periodic: Periodic = { at: Date.now() + intervalMs, intervalMs, run };
    this.#periodic.add(periodic);
    this.#timer ??= setInterval(() => this.#tick(), this.tickMs);
    return () => {
      this.#periodic.delete(periodic);
      if (this.#periodic.size > 0) return;
      clearInterval(this.#timer);
      this.#timer = undefined;
    };
  }

  #tick(): void {
    const now = Date.now();
    for (const periodic of this.#periodic) {
      if (now < periodic.at) continue;
      // Behind by more than an interval (a stalled process): beat once, not once per interval missed.
      const next = periodic.at + periodic.intervalMs;
      periodic.at = next > now ? next : now + periodic.intervalMs;
      periodic.run();
    }
  }
}
