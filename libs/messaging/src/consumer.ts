import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  type CloudEvent,
  type ContractRegistry,
  ContractViolation,
  type EventDefinition,
  parseCloudEvent,
} from '@mycelium/contracts';
import { type EventStoreTransaction, type EventMetadata, isWrongExpectedVersion, type EventStore } from '@mycelium/eventstore';
import { type Logger, type ServiceMetrics, withMessageContext } from '@mycelium/telemetry';
import { DeadLetters } from './dead-letters.js';
import { ensureStreams } from './streams.js';
import type { Topology } from './topology.js';
import { extractTraceContext } from './trace-headers.js';

const tracer = trace.getTracer('@mycelium/messaging');
const decoder = new TextDecoder();

/** What a handler gets for one event: the envelope, its checked payload, and the transaction. */
export interface DeliveredEvent<Payload = unknown> {
  event: CloudEvent;
  /** The payload upcast to the newest version and validated, or the raw data of a type this process does not know. */
  payload: Payload;
  definition: EventDefinition | undefined;
  /**
   * Everything the handler appends or writes through this transaction commits together with the
   * inbox entry that marks the event handled: the handler's effects happen exactly once.
   */
  tx: EventStoreTransaction;
  /** Metadata for events appended in reaction: same correlation, caused by this event. */
  metadata: EventMetadata;
  deliveries: number;
}

export type EventHandler = (delivery: DeliveredEvent) => Promise<void>;

export interface ConsumerOptions {
  service: string;
  /** Durable consumer name, unique per handler; it is also the inbox key. */
  durable: string;
  /** Grid subject filter, e.g. `evt.spores.node.>`. */
  filter: string;
  handler: EventHandler;
  nc: NatsConnection;
  store: EventStore;
  registry: ContractRegistry;
  topology: Topology;
  logger: Logger;
  metrics?: ServiceMetrics;
  /** Start from the beginning of the stream (default) or only new events. */
  deliverPolicy?: 'all' | 'new';
  /** Deliveries before a failing event goes to the dead-letter subject. */
  maxDeliveries?: number;
  /** Delay before the first redelivery; doubles each time, up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Events handled at once; 1 (the default) handles them one by one in the stream's order. Above
   * 1, events of one aggregate (the CloudEvents `subject`, its stream) still go one at a time in
   * order, while those of different aggregates overlap: for handlers that keep no order across
   * aggregates and meet bursts (fifty rounds closing at once).
   */
  concurrency?: number;
  /**
   * How long inbox entries are kept. Longer than JetStream keeps events (7 days by default), so
   * an event that can still be delivered is still recognised. Default 8 days.
   */
  inboxRetentionMs?: number;
}

const INBOX_RETENTION_MS = 8 * 24 * 60 * 60 * 1000;
const INBOX_PRUNE_EVERY_MS = 10 * 60 * 1000;

/**
 * A durable JetStream pull consumer with explicit acks. Each event is handled in a database
 * transaction that first records it in the inbox, so a redelivered event changes nothing twice.
 * Unparseable or invalid events, and events that keep failing, go to `dlq.<service>` with the
 * reason; the consumer moves on.
 */
export class EventConsumer {
  readonly #options: ConsumerOptions;
  readonly #deadLetters: DeadLetters;
  readonly #durable: string;
  #messages: ConsumerMessages | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  /** The last event taken of each aggregate: the next one of it waits for it. */
  readonly #lastOf = new Map<string, Promise<void>>();

  constructor(options: ConsumerOptions) {
    this.#options = options;
    this.#durable = options.topology.durableName(options.durable);
    this.#deadLetters = new DeadLetters(options.nc, options.topology, options.service, options.logger, options.metrics);
  }

  get durable(): string {
    return this.#durable;
  }

  /** Creates the durable consumer if needed and starts handling events. */
  async start(): Promise<void> {
    const { nc, topology, filter, deliverPolicy } = this.#options;
    const jsm = await jetstreamManager(nc);
    const config = {
      durable_name: this.#durable,
      filter_subject: topology.subject(filter),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      // The consumer dead-letters at `maxDeliveries` itself. No limit on the server: a message
      // whose dead-lettering failed must still come back rather than vanish.
      max_deliver: -1,
      ack_wait: nanos(30_000),
      max_ack_pending: 1000,
    };
    // The relay makes the streams; a consumer in a process that runs none may start first.
    await jsm.streams.info(topology.eventsStream).catch(async (error: unknown) => {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
      await ensureStreams(jsm, topology);
    });
    try {
      await jsm.consumers.info(topology.eventsStream, this.#durable);
      await jsm.consumers.update(topology.eventsStream, this.#durable, {
        max_deliver: config.max_deliver,
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
      });
    } catch {
      await jsm.consumers.add(topology.eventsStream, config);
    }
    this.#loop = this.#run();
    this.#pruneTimer = setInterval(() => {
      this.pruneInbox().catch((error: unknown) => this.#options.logger.warn({ err: error, consumer: this.#durable }, 'could not prune the inbox'));
    }, INBOX_PRUNE_EVERY_MS);
    this.#pruneTimer.unref();
  }

  /** Forgets events handled longer ago than the retention; returns how many entries went. */
  async pruneInbox(): Promise<number> {
    const { store, inboxRetentionMs = INBOX_RETENTION_MS } = this.#options;
    const { rowCount } = await store.query(
      `DELETE FROM ${store.schema}.inbox WHERE consumer = $1 AND handled_at < now() - make_interval(secs => $2)`,
      [this.#durable, inboxRetentionMs / 1000],
    );
    return rowCount;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pruneTimer);
    await this.#messages?.close();
    await this.#loop;
    await Promise.all(this.#inFlight);
  }

  /** Hands the event on: at once, or once there is room and its aggregate's previous one is done. */
  async #take(msg: JsMsg): Promise<void> {
    const concurrency = this.#options.concurrency ?? 1;
    if (concurrency <= 1) return this.#process(msg);
    while (this.#inFlight.size >= concurrency) await Promise.race(this.#inFlight);
    const key = aggregateOf(msg);
    const run = (this.#lastOf.get(key) ?? Promise.resolve())
      .then(() => this.#process(msg))
      .catch((error: unknown) => this.#options.logger.error({ err: error, consumer: this.#durable }, 'could not handle an event'));
    const tracked = run.finally(() => {
      this.#inFlight.delete(tracked);
      if (this.#lastOf.get(key) === tracked) this.#lastOf.delete(key);
    });
    this.#inFlight.add(tracked);
    this.#lastOf.set(key, tracked);
  }

  async #run(): Promise<void> {
    const { nc, topology, logger } = this.#options;
    const js = jetstream(nc);
    while (!this.#stopped) {
      try {
        const consumer = await js.consumers.get(topology.eventsStream, this.#durable);
        this.#messages = await consumer.consume({ max_messages: 64 });
        if (this.#stopped) await this.#messages.close();
        for await (const msg of this.#messages) await this.#take(msg);
      } catch (error) {
        if (this.#stopped) break;
        logger.warn({ err: error, consumer: this.#durable }, 'event consumer interrupted; resuming');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  async #process(msg: JsMsg): Promise<void> {
    const { registry, logger, metrics } = this.#options;
    const deliveries = msg.info.deliveryCount;
    let event: CloudEvent;
    try {
      event = parseCloudEvent(JSON.parse(decoder.decode(msg.data)));
    } catch (error) {
      await this.#deadLetter(msg, 'unparseable', `not a grid event: ${describe(error)}`);
      return;
    }
    let decoded: ReturnType<ContractRegistry['decodeEvent']>;
    try {
      decoded = registry.decodeEvent(event.type, event.data);
    } catch (error) {
      await this.#deadLetter(msg, 'invalid', `${event.type} ${event.id} breaks its contract: ${describe(error)}`);
      return;
    }
    const metadata: EventMetadata = {
      correlationId: event.correlationid ?? event.id,
      causationId: event.id,
      ...(event.tenant ? { tenant: event.tenant } : {}),
    };
    const span = tracer.startSpan(
      `consume ${msg.subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.consumer.group.name': this.#durable,
          'messaging.message.id': event.id,
          'mycelium.deliveries': deliveries,
        },
      },
      extractTraceContext(msg.headers),
    );
    try {
      const outcome = await context.with(trace.setSpan(context.active(), span), () =>
        withMessageContext(metadata, () => this.#handleOnce(event, decoded, metadata, deliveries)),
      );
      msg.ack();
      metrics?.eventsConsumed.inc({ consumer: this.#durable, outcome });
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
      if (deliveries >= (this.#options.maxDeliveries ?? 5)) {
        await this.#deadLetter(msg, 'failed', `handling ${event.type} ${event.id} failed ${deliveries} times: ${describe(error)}`);
      } else {
        const delay = this.#backoff(deliveries);
        logger.warn({ err: error, consumer: this.#durable, eventId: event.id, deliveries, retryInMs: delay }, 'event handler failed; will retry');
        msg.nak(delay);
        metrics?.eventsConsumed.inc({ consumer: this.#durable, outcome: 'retried' });
      }
    } finally {
      span.end();
    }
  }

  async #handleOnce(
    event: CloudEvent,
    decoded: ReturnType<ContractRegistry['decodeEvent']>,
    metadata: EventMetadata,
    deliveries: number,
  ): Promise<'handled' | 'duplicate'> {
    const { store, handler } = this.#options;
    // A version conflict means another writer moved a stream the handler read: decide again.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await store.transaction(async (tx) => {
          if (!(await tx.markHandled(this.#durable, event.id))) return 'duplicate';
          await handler({
            event,
            payload: decoded ? decoded.payload : event.data,
            definition: decoded?.definition,
            tx,
            metadata,
            deliveries,
          });
          return 'handled';
        });
      } catch (error) {
        if (!isWrongExpectedVersion(error) || attempt >= 3) throw error;
      }
    }
  }

  async #deadLetter(msg: JsMsg, kind: string, reason: string): Promise<void> {
    try {
      await this.#deadLetters.send({
        kind,
        reason,
        subject: msg.subject,
        data: msg.data,
        headers: msg.headers,
        consumer: this.#durable,
        deliveries: msg.info.deliveryCount,
        streamSequence: msg.info.streamSequence,
      });
      msg.term(reason.slice(0, 200));
      this.#options.metrics?.eventsConsumed.inc({ consumer: this.#durable, outcome: 'dead-lettered' });
    } catch (error) {
      // Without a dead letter the message must not be dropped: let JetStream deliver it again.
      this.#options.logger.error({ err: error, consumer: this.#durable }, 'could not dead-letter a message; it will be redelivered');
      msg.nak(this.#backoff(msg.info.deliveryCount));
    }
  }

  #backoff(deliveries: number): number {
    const base = this.#options.backoffMs ?? 500;
    return Math.min(base * 2 ** Math.max(0, deliveries - 1), this.#options.maxBackoffMs ?? 30_000);
  }
}

/** The event's aggregate (its CloudEvents subject); one that cannot be read goes alone under ''. */
function aggregateOf(msg: JsMsg): string {
  try {
    const subject = (JSON.parse(decoder.decode(msg.data)) as { subject?: unknown }).subject;
    return typeof subject === 'string' ? subject : '';
  } catch {
    return '';
  }
}

function describe(error: unknown): string {
  if (error instanceof ContractViolation) return error.field ? `${error.message} (field ${error.field})` : error.message;
  return error instanceof Error ? error.message : String(error);
}
