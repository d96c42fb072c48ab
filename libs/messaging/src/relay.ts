import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { jetstream, type JetStreamClient, jetstreamManager, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { toCloudEvent } from '@mycelium/contracts';
import type { EventStore, Lease, RecordedEvent } from '@mycelium/eventstore';
import type { Logger, RelayMetrics } from '@mycelium/telemetry';
import { Headers } from './headers.js';
import { ensureStreams, type StreamOptions } from './streams.js';
import type { Topology } from './topology.js';
import { injectTraceHeaders, traceContextOf } from './trace-headers.js';

const tracer = trace.getTracer('@mycelium/messaging');
const encoder = new TextEncoder();

export interface RelayOptions {
  store: EventStore;
  nc: NatsConnection;
  topology: Topology;
  logger: Logger;
  metrics?: RelayMetrics;
  /** Lease and checkpoint name; one relay per name is active across all processes. */
  name?: string;
  /** Publishes awaiting their JetStream acknowledgement at once. */
  window?: number;
  /** How often a standby relay tries to take the lease. */
  standbyPollMs?: number;
  /** How often the acknowledged position is saved. */
  checkpointEveryMs?: number;
  streams?: StreamOptions;
  /** Called when this relay becomes active or goes back to standby. */
  onStateChange?: (state: RelayState) => void;
}

export type RelayState = 'active' | 'standby' | 'stopped';

interface Pending {
  position: bigint;
  acked: boolean;
  /** Resolves when the publish was acknowledged or failed. */
  settled?: Promise<void>;
}

/**
 * The outbox relay: tails the event store and publishes every event to JetStream, each with its
 * event id as `Nats-Msg-Id`, so a republish after a crash is dropped by JetStream. Any number of
 * processes may run one; a lease makes exactly one of them active, and a standby takes over
 * within `standbyPollMs` when the active one dies. The checkpoint only moves past acknowledged
 * events, so nothing is lost.
 */
export class Relay {
  readonly #options: Required<Omit<RelayOptions, 'metrics' | 'onStateChange' | 'streams'>> &
    Pick<RelayOptions, 'metrics' | 'onStateChange' | 'streams'>;
  readonly #js: JetStreamClient;
  #state: RelayState = 'standby';
  #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #published = 0;

  constructor(options: RelayOptions) {
    this.#options = {
      name: 'relay',
      window: 2048,
      standbyPollMs: 500,
      checkpointEveryMs: 200,
      ...options,
    };
    this.#js = jetstream(options.nc);
  }

  get state(): RelayState {
    return this.#state;
  }

  /** Events this relay has seen acknowledged since it started. */
  get published(): number {
    return this.#published;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
    this.#setState('stopped');
  }

  async #run(): Promise<void> {
    const { store, logger, name, standbyPollMs } = this.#options;
    while (!this.#stopping.signal.aborted) {
      let lease: Lease | undefined;
      try {
        lease = await store.tryAcquireLease(name);
      } catch (error) {
        logger.warn({ err: error }, 'relay could not ask for its lease');
      }
      if (!lease) {
        await sleep(standbyPollMs, this.#stopping.signal);
        continue;
      }
      if (this.#stopping.signal.aborted) {
        await lease.release().catch(() => undefined);
        break;
      }
      this.#setState('active');
      logger.info({ relay: name }, 'relay is active');
      try {
        await this.#publishWhileHolding(lease);
      } catch (error) {
        logger.warn({ err: error }, 'relay stopped publishing; it starts again from what JetStream holds');
        await sleep(1000, this.#stopping.signal);
      } finally {
        await lease.release().catch(() => undefined);
        if (!this.#stopping.signal.aborted) {
          this.#setState('standby');
          logger.info({ relay: name }, 'relay is on standby');
        }
      }
    }
  }

  /**
   * Where the stream really is: the last message stored, which a relay that died may have
   * published past its checkpoint.
   */
  async #streamTail(jsm: JetStreamManager): Promise<{ sequence: number; messageId?: string; position?: bigint }> {
    const stream = this.#options.topology.eventsStream;
    const { state } = await jsm.streams.info(stream);
    if (state.messages === 0) return { sequence: state.last_seq };
    const last = await jsm.streams.getMessage(stream, { seq: state.last_seq }).catch(() => null);
    const messageId = last?.header?.get('Nats-Msg-Id') || undefined;
    const position = last?.header?.get(Headers.Position);
    return { sequence: state.last_seq, messageId, position: position && /^[0-9]+$/.test(position) ? BigInt(position) : undefined };
  }

  async #publishWhileHolding(lease: Lease): Promise<void> {
    const { store, nc, topology, name, window, checkpointEveryMs, metrics, logger } = this.#options;
    const stop = new AbortController();
    const stopOnce = () => stop.abort();
    this.#stopping.signal.addEventListener('abort', stopOnce, { once: true });
    if (this.#stopping.signal.aborted) stopOnce();
    void lease.lost.then(stopOnce);

    const queue: Pending[] = [];
    let failure: unknown;
    let timer: NodeJS.Timeout | undefined;
    let saving: Promise<void> | undefined;
    let save = async () => undefined as void;
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStreams(jsm, topology, this.#options.streams);
      let acknowledged = (await store.loadCheckpoint(name)) ?? 0n;
      const tail = await this.#streamTail(jsm);
      if (tail.position !== undefined && tail.position > acknowledged) {
        // Published before the last relay could save its checkpoint: nothing to send again.
        acknowledged = tail.position;
        if (acknowledged > (await store.headPosition())) {
          logger.error({ stream: topology.eventsStream, position: acknowledged.toString() }, 'JetStream holds events beyond the end of the log: was the database restored from an older backup?');
        }
      }
      // Each publish expects the one before it to be the stream's last message, so an event lost
      // in a reconnect cannot be overtaken by the next: the server refuses, and the relay resumes
      // from the stream's tail in order.
      let expectation: { lastMsgID: string } | { lastSequence: number } = tail.messageId
        ? { lastMsgID: tail.messageId }
        : { lastSequence: tail.sequence };
      let saved = acknowledged;
      // Acknowledgements come in order on one connection; the checkpoint follows the longest
      // acknowledged prefix, never an event with an unacknowledged one before it.
      const advance = () => {
        while (queue.length > 0 && queue[0]!.acked) {
          acknowledged = queue.shift()!.position;
          this.#published += 1;
        }
      };
      save = async () => {
        if (acknowledged === saved || !lease.isHeld) return;
        const position = acknowledged;
        await store.saveCheckpoint(name, position);
        saved = position;
        metrics?.relayPosition.set(Number(position & 0x1f_ffff_ffff_ffffn));
      };
      timer = setInterval(() => {
        saving ??= save()
          .catch((error: unknown) => logger.warn({ err: error }, 'relay could not save its checkpoint'))
          .finally(() => (saving = undefined));
      }, checkpointEveryMs);

      for await (const page of store.subscribeAllPages({ after: acknowledged, signal: stop.signal, batchSize: window })) {
        // A page is published without awaiting in between, so the client writes it in few syscalls.
        for (const event of page) {
          if (failure) throw failure;
          const pending: Pending = { position: event.position, acked: false };
          queue.push(pending);
          pending.settled = this.#publish(event, expectation).then(
            () => {
              pending.acked = true;
              metrics?.eventsPublished.inc();
              advance();
            },
            (error: unknown) => {
              failure ??= error;
              stopOnce();
            },
          );
          expectation = { lastMsgID: event.id };
          if (queue.length >= window) await queue[0]!.settled;
        }
      }
      // Stopping: let what is in flight land, so the checkpoint is as far on as it can be.
      const deadline = Date.now() + 5000;
      while (queue.length > 0 && !failure && Date.now() < deadline && lease.isHeld) await queue[0]!.settled;
      if (failure) throw failure;
    } finally {
      clearInterval(timer);
      this.#stopping.signal.removeEventListener('abort', stopOnce);
      await saving;
      await save().catch(() => undefined);
    }
  }

  #publish(event: RecordedEvent, expect: { lastMsgID: string } | { lastSequence: number }): Promise<PubAck> {
    const { topology } = this.#options;
    const subject = topology.eventSubject(event.streamId, event.type);
    // The publish span is a child of the append that recorded the event; consumers continue it.
    const parent = traceContextOf(event.metadata);
    const span = tracer.startSpan(
      `publish ${subject}`,
      { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } },
      parent,
    );
    const headers = natsHeaders();
    headers.set(Headers.ContentType, 'application/cloudevents+json');
    headers.set(Headers.EventType, event.type);
    headers.set(Headers.Position, event.position.toString());
    if (typeof event.metadata.correlationId === 'string') headers.set(Headers.CorrelationId, event.metadata.correlationId);
    if (typeof event.metadata.tenant === 'string') headers.set(Headers.Tenant, event.metadata.tenant);
    injectTraceHeaders(headers, trace.setSpan(parent, span));
    return this.#js.publish(subject, encoder.encode(JSON.stringify(toCloudEvent(event))), { msgID: event.id, headers, expect }).then(
      (ack) => {
        span.end();
        return ack;
      },
      (error: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        span.end();
        throw error;
      },
    );
  }

  #setState(state: RelayState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.metrics?.relayActive.set(state === 'active' ? 1 : 0);
    this.#options.onStateChange?.(state);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
