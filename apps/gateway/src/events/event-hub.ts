import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type EventStore, followAll } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { type EventFilter, matches, type PublicEvent, publicEvent, type ResumePoint } from './event-filter.js';

/** Where a subscriber's events go: an SSE response, a WebSocket, a test's array. */
export interface EventSink {
  /**
   * Takes events in log order (always), and says whether its buffer is still within its bound:
   * a live subscriber that is not is let go; one catching up waits for `ready` instead.
   */
  push(events: PublicEvent[]): boolean;
  /** Resolves once it can take more: catching up waits on this rather than overflowing. */
  ready(): Promise<void>;
  /** The hub let it go: it fell too far behind (`overflow`), the gateway is stopping, or the log cannot be read. */
  dropped(reason: 'overflow' | 'stopping' | 'unavailable'): void;
}

export interface EventSubscription {
  unsubscribe(): void;
}

interface Live {
  filter: EventFilter;
  sink: EventSink;
  /** Every event up to here has been examined for this subscriber. */
  cursor: bigint;
}

const END_OF_TIME = new Date(8.64e15);

/** Events read per page while a subscriber catches up from the log. */
const CATCH_UP_PAGE = 500;

/**
 * The event API's one tail of the log: every SSE, WebSocket and webhook subscriber of this gateway
 * is fed from it, each event serialized once, so a thousand subscribers cost one reader of the
 * store. A subscriber resuming from an older position first reads the log itself, at its own pace,
 * then joins the live feed at the exact position it reached: no gap, no duplicate (docs/adr/0021).
 */
@Injectable()
export class EventHub implements OnModuleInit, OnModuleDestroy {
  readonly #live = new Set<Live>();
  readonly #advanced = new Set<() => void>();
  readonly #stop = new AbortController();
  /** Every event up to here has been handed to the live subscribers. */
  #position = 0n;
  #markStarted!: () => void;
  readonly #started = new Promise<void>((resolve) => (this.#markStarted = resolve));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  get position(): bigint {
    return this.#position;
  }

  get subscribers(): number {
    return this.#live.size;
  }

  onModuleInit(): void {
    void this.#tail();
  }

  onModuleDestroy(): void {
    this.#stop.abort();
    for (const wake of this.#advanced) wake();
    for (const live of this.#live) live.sink.dropped('stopping');
    this.#live.clear();
  }

  async #tail(): Promise<void> {
    // Live subscribers start from now; older events come from the log itself.
    for (let backoff = 100; !this.#stop.signal.aborted; backoff = Math.min(backoff * 2, 5000)) {
      try {
        this.#position = await this.store.headPosition();
        break;
      } catch (error) {
        this.logger.warn({ err: error, retryInMs: backoff }, 'the event API could not read the log head: retrying');
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
    this.#markStarted();
    await followAll(this.store, {
      after: this.#position,
      signal: this.#stop.signal,
      apply: (events) => {
        const fresh = events.filter((event) => event.position > this.#position);
        if (fresh.length === 0) return;
        this.#dispatch(fresh.map(publicEvent));
      },
      onError: (error, retryInMs) => this.logger.warn({ err: error, retryInMs }, 'the event API could not read the log: retrying'),
    });
  }

  #dispatch(events: PublicEvent[]): void {
    const last = events[events.length - 1]!.position;
    for (const live of this.#live) {
      const wanted = events.filter((event) => event.position > live.cursor && matches(live.filter, event));
      live.cursor = last;
      if (wanted.length > 0 && !live.sink.push(wanted)) {
        this.#live.delete(live);
        live.sink.dropped('overflow');
      }
    }
    this.#position = last;
    for (const listener of this.#advanced) listener();
  }

  /** Resolves when new events have been handed on, after `timeoutMs`, or when the gateway stops. */
  nextEvents(timeoutMs: number): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#advanced.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.#advanced.add(wake);
    });
  }

  /**
   * Feeds `sink` the events matching `filter`: after `resume` (from the log, then live), or from
   * now. Resolves once the subscriber is live; rejects if the log cannot be read.
   */
  async subscribe(filter: EventFilter, resume: ResumePoint, sink: EventSink, signal?: AbortSignal): Promise<EventSubscription> {
    await this.#started;
    let cursor = await this.#startOf(resume);
    for (;;) {
      if (signal?.aborted) return { unsubscribe: () => undefined };
      if (cursor >= this.#position) break;
      const page = await this.store.readAll({ after: cursor, maxCount: CATCH_UP_PAGE });
      const wanted = page.events.map(publicEvent).filter((event) => matches(filter, event));
      cursor = page.next;
      if (wanted.length > 0 && !sink.push(wanted)) await sink.ready();
      // Checked in the same turn as joining the live feed below: nothing is handed on in between.
      if (!page.isFull && cursor >= this.#position) break;
      await sink.ready();
    }
    const live: Live = { filter, sink, cursor };
    this.#live.add(live);
    return { unsubscribe: () => this.#live.delete(live) };
  }

  /** The position a resume point stands for: events after it are the subscriber's. */
  async #startOf(resume: ResumePoint): Promise<bigint> {
    if (resume === undefined) return this.#position;
    if ('after' in resume) return resume.after;
    const page = await this.store.readAllByTime({ from: resume.since, to: END_OF_TIME, maxCount: 1 });
    const first = page.events[0];
    return first ? first.position - 1n : this.#position;
  }
}
