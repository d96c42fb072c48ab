import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import type { Logger, ServiceMetrics } from '@mycelium/telemetry';
import { Headers } from './headers.js';
import type { Topology } from './topology.js';

export interface DeadLetter {
  /** Why the message could not be handled: shown to operators as is. */
  reason: string;
  /** A short stable label of the reason, for metrics: `unparseable`, `invalid`, `failed`, ... */
  kind: string;
  /** The subject the message arrived on. */
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
  consumer?: string;
  deliveries?: number;
  streamSequence?: number;
}

/**
 * Sends messages a service cannot handle to `dlq.<service>`, kept by the MYCELIUM_DLQ stream with
 * the original bytes and headers and the reason, so nothing is lost and nothing blocks the queue.
 */
export class DeadLetters {
  readonly #js: JetStreamClient;

  constructor(
    nc: NatsConnection,
    private readonly topology: Topology,
    private readonly service: string,
    private readonly logger: Logger,
    private readonly metrics?: ServiceMetrics,
  ) {
    this.#js = jetstream(nc);
  }

  async send(letter: DeadLetter): Promise<void> {
    const headers = natsHeaders();
    for (const [key, values] of letter.headers ?? []) {
      // Keep the original headers, but not JetStream's own (a reused Nats-Msg-Id would be dropped).
      if (key.startsWith('Nats-')) continue;
      for (const value of values) headers.append(key, value);
    }
    headers.set(Headers.DeadLetterReason, oneLine(letter.reason));
    headers.set(Headers.DeadLetterService, this.service);
    headers.set(Headers.DeadLetterSubject, letter.subject);
    headers.set(Headers.DeadLetterAt, new Date().toISOString());
    if (letter.consumer) headers.set(Headers.DeadLetterConsumer, letter.consumer);
    if (letter.deliveries !== undefined) headers.set(Headers.DeadLetterDeliveries, String(letter.deliveries));
    if (letter.streamSequence !== undefined) headers.set(Headers.DeadLetterStreamSequence, String(letter.streamSequence));
    await this.#js.publish(this.topology.deadLetterSubject(this.service), letter.data, { headers });
    this.metrics?.deadLettered.inc({ reason: letter.kind });
    this.logger.warn(
      { subject: letter.subject, consumer: letter.consumer, reason: letter.reason, deliveries: letter.deliveries },
      'message sent to the dead-letter subject',
    );
  }
}

/** NATS header values may not hold line breaks. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 1000);
}
