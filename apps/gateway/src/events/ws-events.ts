import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WebSocket, WebSocketServer } from 'ws';
import { KEYS_READY_WAIT_MS } from '../keys/api-key.guard.js';
import { ApiKeys } from '../keys/api-keys.js';
import { eventScope } from './event-scope.js';
import { FilterRejected, parseFilter, parseResume, type PublicEvent } from './event-filter.js';
import { type EventSink, EventHub, type EventSubscription } from './event-hub.js';
import { SSE_MAX_PENDING_BYTES } from './sse-sink.js';

export const WS_PATH = '/v1/events/ws';
const MAX_SUBSCRIPTIONS = 32;
const SUBSCRIPTION_ID = /^[A-Za-z0-9_.-]{1,64}$/;

type ClientFrame =
  | { type: 'subscribe'; id: string; filter?: { type?: unknown; subject?: unknown }; after?: unknown; since?: unknown }
  | { type: 'unsubscribe'; id: string };

/**
 * The event API over WebSocket (`/v1/events/ws`): the same events, filters and tenant scope as SSE,
 * several subscriptions on one connection. The client sends `subscribe` (with an `id`, a `filter`
 * and optionally `after`, a position, or `since`) and `unsubscribe`; the server acknowledges each
 * (`subscribed` with the position it starts after, `unsubscribed`), sends `event` frames naming
 * the subscription, and `error` frames naming the field. A connection that falls too far behind
 * gets `dropped` with each subscription's position to resume from, and is closed (docs/adr/0021).
 */
@Injectable()
export class WsEvents implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #server = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  #http: Server | undefined;
  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(request, socket, head);

  constructor(
    private readonly adapter: HttpAdapterHost,
    private readonly hub: EventHub,
    private readonly keys: ApiKeys,
  ) {}

  onApplicationBootstrap(): void {
    this.#http = this.adapter.httpAdapter?.getHttpServer() as Server | undefined;
    this.#http?.on('upgrade', this.#onUpgrade);
  }

  onModuleDestroy(): void {
    this.#http?.off('upgrade', this.#onUpgrade);
    for (const client of this.#server.clients) client.close(1001, 'the gateway is stopping');
    this.#server.close();
  }

  async #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://gateway');
    if (url.pathname !== WS_PATH) return;
    const refuse = (status: number, code: string, message: string) => {
      socket.end(`HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ error: { code, message } })}`);
    };
    // Browsers cannot set headers on a WebSocket: the key may come as ?access_token= instead.
    const header = request.headers.authorization;
    const presented = header?.startsWith('Bearer ') ? header.slice(7).trim() : url.searchParams.get('access_token');
    if (!presented) return refuse(401, 'UNAUTHENTICATED', 'send an API key: Authorization: Bearer <key>, or ?access_token=<key>');
    if (!(await this.keys.whenReady(KEYS_READY_WAIT_MS))) return refuse(503, 'SERVICE_UNAVAILABLE', 'the gateway is still loading API keys: retry in a few seconds');
    const holder = this.keys.check(presented);
    if (!holder) return refuse(401, 'UNAUTHENTICATED', 'this API key is not known');
    if (!holder.scopes.includes('admin') && !holder.scopes.includes('events:read')) return refuse(403, 'FORBIDDEN', 'this key lacks the events:read scope');
    let tenant: string | undefined;
    try {
      tenant = eventScope({ apiKey: holder, query: Object.fromEntries(url.searchParams) });
    } catch {
      return refuse(403, 'FORBIDDEN', 'only an admin key may read another tenant’s events (?tenant=)');
    }
    this.#server.handleUpgrade(request, socket, head, (ws) => new WsConnection(ws, this.hub, tenant));
  }
}

/** One client: its subscriptions, each an EventSink writing onto the one socket. */
class WsConnection {
  readonly #subscriptions = new Map<string, { sink: WsSubscriptionSink; handle?: EventSubscription; stop: AbortController }>();

  constructor(
    private readonly ws: WebSocket,
    private readonly hub: EventHub,
    private readonly tenant: string | undefined,
  ) {
    ws.on('message', (data, binary) => this.#receive(binary ? '' : data.toString()));
    ws.on('close', () => this.#closeAll());
    ws.on('error', () => this.#closeAll());
  }

  #send(frame: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  #error(id: string | undefined, code: string, message: string, field?: string): void {
    this.#send(JSON.stringify({ type: 'error', ...(id ? { id } : {}), error: { code, message, ...(field ? { field } : {}) } }));
  }

  #receive(text: string): void {
    let frame: ClientFrame;
    try {
      frame = JSON.parse(text) as ClientFrame;
    } catch {
      return this.#error(undefined, 'VALIDATION_FAILED', 'a frame must be a JSON object: {"type":"subscribe","id":"s1","filter":{"type":"mycelium.deployment."}}');
    }
    const id = (frame as { id?: unknown }).id;
    if (typeof id !== 'string' || !SUBSCRIPTION_ID.test(id)) return this.#error(undefined, 'VALIDATION_FAILED', 'id must be 1 to 64 letters, digits, _ . or -', 'id');
    if (frame.type === 'unsubscribe') {
      this.#drop(id);
      return this.#send(JSON.stringify({ type: 'unsubscribed', id }));
    }
    if (frame.type !== 'subscribe') return this.#error(id, 'VALIDATION_FAILED', 'type must be subscribe or unsubscribe', 'type');
    if (this.#subscriptions.has(id)) return this.#error(id, 'CONFLICT', `subscription ${id} exists already: unsubscribe first`, 'id');
    if (this.#subscriptions.size >= MAX_SUBSCRIPTIONS) return this.#error(id, 'VALIDATION_FAILED', `at most ${MAX_SUBSCRIPTIONS} subscriptions on one connection`, 'id');
    let filter;
    let resume;
    try {
      filter = parseFilter(frame.filter ?? {}, this.tenant);
      resume = parseResume(frame.after === undefined ? undefined : String(frame.after), frame.since);
    } catch (error) {
      if (error instanceof FilterRejected) return this.#error(id, 'VALIDATION_FAILED', error.message, error.field === 'Last-Event-ID' ? 'after' : error.field);
      throw error;
    }
    // Where it resumes if dropped before any event: where it started (a time has no position yet).
    const start = resume === undefined ? this.hub.position : 'after' in resume ? resume.after : undefined;
    const sink = new WsSubscriptionSink(id, this.ws, start, () => this.#overflow());
    const entry: { sink: WsSubscriptionSink; handle?: EventSubscription; stop: AbortController } = { sink, stop: new AbortController() };
    this.#subscriptions.set(id, entry);
    this.#send(JSON.stringify({ type: 'subscribed', id, position: this.hub.position.toString() }));
    this.hub.subscribe(filter, resume, sink, entry.stop.signal).then(
      (handle) => {
        if (this.#subscriptions.get(id) === entry) entry.handle = handle;
        else handle.unsubscribe();
      },
      () => {
        this.#drop(id);
        this.#error(id, 'SERVICE_UNAVAILABLE', 'the event log cannot be read just now: subscribe again shortly');
      },
    );
  }

  #drop(id: string): void {
    const entry = this.#subscriptions.get(id);
    if (!entry) return;
    this.#subscriptions.delete(id);
    entry.stop.abort();
    entry.handle?.unsubscribe();
    entry.sink.close();
  }

  /** The connection fell too far behind: every subscription learns where to resume, then it closes. */
  #overflow(): void {
    const resumeFrom = Object.fromEntries([...this.#subscriptions].flatMap(([id, { sink }]) => (sink.written === undefined ? [] : [[id, sink.written.toString()]])));
    for (const id of [...this.#subscriptions.keys()]) this.#drop(id);
    this.ws.send(JSON.stringify({ type: 'dropped', reason: 'overflow', resumeFrom, message: 'this connection fell too far behind: subscribe again with after=<resumeFrom> to go on without a gap' }), () =>
      this.ws.close(1013, 'fell too far behind'),
    );
  }

  #closeAll(): void {
    for (const id of [...this.#subscriptions.keys()]) this.#drop(id);
  }
}

/** One subscription's events onto the shared socket, bounded by what the socket has not yet sent. */
class WsSubscriptionSink implements EventSink {
  #closed = false;

  constructor(
    private readonly id: string,
    private readonly ws: WebSocket,
    /** The last position sent: where the subscription resumes. */
    public written: bigint | undefined,
    private readonly overflow: () => void,
  ) {}

  push(events: PublicEvent[]): boolean {
    if (this.#closed || this.ws.readyState !== WebSocket.OPEN) return true;
    const prefix = `{"type":"event","subscription":${JSON.stringify(this.id)},"event":`;
    for (const event of events) this.ws.send(`${prefix}${event.json}}`);
    this.written = events[events.length - 1]!.position;
    return this.ws.bufferedAmount <= SSE_MAX_PENDING_BYTES;
  }

  ready(): Promise<void> {
    if (this.#closed || this.ws.bufferedAmount <= SSE_MAX_PENDING_BYTES) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.#closed || this.ws.bufferedAmount <= SSE_MAX_PENDING_BYTES / 2) resolve();
        else setTimeout(check, 20).unref();
      };
      check();
    });
  }

  dropped(reason: 'overflow' | 'stopping' | 'unavailable'): void {
    if (this.#closed) return;
    if (reason === 'overflow') this.overflow();
    else this.ws.close(1001, reason === 'stopping' ? 'the gateway is stopping' : 'the event log cannot be read just now');
  }

  close(): void {
    this.#closed = true;
  }
}
