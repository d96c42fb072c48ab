import { EventStoreClosedError } from './errors.js';
import type { EventStore, ReadAllFilter, RecordedEvent } from './types.js';

export interface FollowOptions extends ReadAllFilter {
  /** Exclusive start position; default the start of the log. */
  after?: bigint;
  /** Stops following; the promise then resolves. */
  signal: AbortSignal;
  /** Folds a page in. Must be idempotent by position: after an error, the page may come again. */
  apply(events: RecordedEvent[]): void | Promise<void>;
  /** Called once, when everything logged before the start has been applied. */
  onCaughtUp?(): void;
  /** A failed read or apply; following resumes after `retryInMs`. */
  onError?(error: unknown, retryInMs: number): void;
  /** The first successful read after a failure. */
  onRecovered?(): void;
  /** Longest wait between retries (default 5 s); the first is 100 ms. */
  maxBackoffMs?: number;
}

/**
 * Catches an in-process projection up with the log, then keeps it current, and survives the
 * store failing under it (a PostgreSQL restart, a dropped connection): it resumes from the last
 * position it applied, backing off, until the signal stops it or the store is closed.
 */
export async function followAll(store: EventStore, options: FollowOptions): Promise<void> {
  const filter: ReadAllFilter = { streamPrefixes: options.streamPrefixes, types: options.types, mentioning: options.mentioning };
  const maxBackoffMs = options.maxBackoffMs ?? 5000;
  let after = options.after ?? 0n;
  let caughtUp = false;
  let failing = false;
  let backoff = 100;
  const recovered = () => {
    if (!failing) return;
    failing = false;
    backoff = 100;
    options.onRecovered?.();
  };
  while (!options.signal.aborted) {
    try {
      while (!caughtUp) {
        const page = await store.readAll({ ...filter, after, maxCount: 5000 });
        recovered();
        if (page.events.length > 0) await options.apply(page.events);
        after = page.next;
        if (!page.isFull) {
          caughtUp = true;
          options.onCaughtUp?.();
        }
      }
      // A quiet log yields nothing to prove the store is back: ask it something.
      if (failing) await store.headPosition();
      recovered();
      for await (const page of store.subscribeAllPages({ ...filter, after, signal: options.signal })) {
        await options.apply(page);
        after = page[page.length - 1]!.position;
      }
    } catch (error) {
      if (options.signal.aborted || error instanceof EventStoreClosedError) return;
      failing = true;
      options.onError?.(error, backoff);
      await sleep(backoff, options.signal);
      backoff = Math.min(backoff * 2, maxBackoffMs);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
