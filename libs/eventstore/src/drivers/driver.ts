import type { Lease, SqlExecutor } from '../types.js';

/**
 * What the event store needs from a database. PostgreSQL and PGlite differ only here; the SQL and
 * every rule of the store are shared, so one contract suite proves both.
 */
export interface SqlDriver extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Tells subscribers in every process sharing this database that new events were committed. */
  announceAppend(): void;
  /** Calls `listener` on every announcement; resolves to a function that stops listening. */
  onAppend(listener: () => void): Promise<() => Promise<void>>;
  tryAcquireLease(name: string): Promise<Lease | undefined>;
  close(): Promise<void>;
}

export interface DriverLogger {
  warn(message: string, error?: unknown): void;
}

export const silentLogger: DriverLogger = { warn: () => undefined };

/** A lease whose loss is signalled once, by whoever notices first. */
export class SignalledLease implements Lease {
  #held = true;
  #signalLost!: () => void;
  readonly lost = new Promise<void>((resolve) => (this.#signalLost = resolve));

  constructor(
    readonly name: string,
    private readonly onRelease: () => Promise<void>,
  ) {}

  get isHeld(): boolean {
    return this.#held;
  }

  markLost(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#signalLost();
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.markLost();
    await this.onRelease();
  }
}
