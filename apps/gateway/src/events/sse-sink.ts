import type { ServerResponse } from 'node:http';
import type { PublicEvent } from './event-filter.js';
import type { EventSink } from './event-hub.js';

/**
 * How far a slow reader may fall behind, in bytes not yet taken by its socket, before it is let go
 * (it resumes with Last-Event-ID). Above one page of the log (up to ~1,000 events).
 */
export const SSE_MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * One SSE response: `id:` is the event's log position (what `Last-Event-ID` resumes from), `data:`
 * the CloudEvent. Events are written in batches once per turn of the event loop, each socket write
 * carrying all that is waiting; a socket that does not drain leaves them pending, up to a bound.
 */
export class SseSink implements EventSink {
  #pending: string[] = [];
  #pendingBytes = 0;
  #scheduled = false;
  #blocked = false;
  #closed = false;
  /** The last position written to the socket: where the reader resumes if let go. */
  #written: bigint | undefined;
  #lastQueued: bigint | undefined;
  readonly #waiters: (() => void)[] = [];
  readonly #keepAlive: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly maxPendingBytes = SSE_MAX_PENDING_BYTES,
    private readonly onClose: () => void = () => undefined,
  ) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // Tell EventSource how soon to come back after a drop.
    res.write('retry: 1000\n\n');
    res.on('drain', () => {
      this.#blocked = false;
      this.#flush();
    });
    res.on('close', () => this.#close());
    this.#keepAlive = setInterval(() => {
      if (!this.#blocked) res.write(': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    this.#keepAlive.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  push(events: PublicEvent[]): boolean {
    if (this.#closed) return false;
    for (const event of events) {
      const frame = `id: ${event.position}\ndata: ${event.json}\n\n`;
      this.#pending.push(frame);
      this.#pendingBytes += frame.length;
      this.#lastQueued = event.position;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
    return this.#behind() <= this.maxPendingBytes;
  }

  /** Bytes given to this reader and not yet taken by the kernel: what it is behind by. */
  #behind(): number {
    return this.#pendingBytes + this.res.writableLength;
  }

  ready(): Promise<void> {
    if (this.#closed || (!this.#blocked && this.#behind() <= this.maxPendingBytes)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  dropped(reason: 'overflow' | 'stopping' | 'unavailable'): void {
    if (this.#closed) return;
    // What is pending is not sent: the reader resumes after what it has.
    this.#pending = [];
    this.#pendingBytes = 0;
    const resumeFrom = (this.#written ?? 0n).toString();
    const why = {
      overflow: `this reader fell more than ${this.maxPendingBytes} bytes behind`,
      stopping: 'the gateway is stopping',
      unavailable: 'the event log cannot be read just now',
    }[reason];
    const message = `${why}; reconnect with Last-Event-ID ${resumeFrom} to go on without a gap`;
    this.res.end(`event: ${reason}\ndata: ${JSON.stringify({ reason, resumeFrom, message })}\n\n`);
    this.#close();
  }

  #flush(): void {
    if (this.#closed || this.#blocked || this.#pending.length === 0) return;
    const chunk = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#written = this.#lastQueued;
    if (!this.res.write(chunk)) this.#blocked = true;
    if (!this.#blocked) for (const wake of this.#waiters.splice(0)) wake();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepAlive);
    for (const wake of this.#waiters.splice(0)) wake();
    this.onClose();
  }
}
