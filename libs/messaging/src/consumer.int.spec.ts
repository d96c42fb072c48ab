import { IsInt, IsString, Min } from 'class-validator';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { ContractRegistry, defineEvent } from '@mycelium/contracts';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DeliveredEvent, EventConsumer, type EventHandler } from './consumer.js';
import { Headers } from './headers.js';
import { Relay } from './relay.js';

class OrderPlacedV1 {
  @IsString()
  orderId!: string;

  @IsInt()
  @Min(1)
  quantity!: number;
}

const OrderPlaced = defineEvent({
  service: 'shop',
  aggregate: 'order',
  name: 'order-placed',
  version: 1,
  payload: OrderPlacedV1,
  description: 'An order was placed.',
});

const logger = createLogger({ name: 'consumer-test', level: 'silent' });
const decoder = new TextDecoder();
const encoder = new TextEncoder();

describe('event consumer', () => {
  let db: TestStore;
  let bus: TestBus;
  let relay: Relay;
  const consumers: EventConsumer[] = [];

  const startConsumer = async (handler: EventHandler, options: { maxDeliveries?: number; concurrency?: number } = {}) => {
    const consumer = new EventConsumer({
      service: 'fulfilment',
      durable: `fulfilment-orders-${consumers.length}`,
      filter: 'evt.shop.order.>',
      handler,
      nc: bus.nc,
      store: db.store,
      registry: new ContractRegistry([OrderPlaced]),
      topology: bus.topology,
      logger,
      backoffMs: 20,
      maxBackoffMs: 100,
      ...options,
    });
    await consumer.start();
    consumers.push(consumer);
    return consumer;
  };

  /** The handler's effect: one event per order in the handler's own stream, in the inbox transaction. */
  const recordShipment: EventHandler = async ({ payload, tx, metadata }: DeliveredEvent) => {
    const order = payload as OrderPlacedV1;
    await tx.append(`fulfilment/shipment/${order.orderId}`, [{ type: 'mycelium.fulfilment.shipment-planned.v1', data: order, metadata }]);
  };

  const shipments = async () =>
    (await db.store.readAll({ streamPrefixes: ['fulfilment/shipment/'], maxCount: 10_000 })).events;

  const deadLetters = async () => bus.stored(bus.topology.deadLetterStream);

  beforeEach(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    relay = new Relay({ store: db.store, nc: bus.nc, topology: bus.topology, logger });
    relay.start();
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
    await relay.stop();
    await bus.dispose();
    await db.dispose();
  });

  const placeOrder = (orderId: string, quantity = 1, metadata = {}) =>
    db.store.append(`shop/order/${orderId}`, [{ type: OrderPlaced.type, data: { orderId, quantity }, metadata }]);

  it('hands each event to the handler with its validated payload and records the effect with correlation', async () => {
    const seen: DeliveredEvent[] = [];
    await startConsumer(async (delivery) => {
      seen.push(delivery);
      await recordShipment(delivery);
    });
    const placed = await placeOrder('o-1', 2, { correlationId: 'checkout-7' });
    await waitFor(async () => (await shipments()).length === 1, { what: 'the shipment' });
    expect(seen[0]!.payload).toBeInstanceOf(OrderPlacedV1);
    expect(seen[0]!.definition).toBe(OrderPlaced);
    const [shipment] = await shipments();
    expect(shipment!.metadata).toMatchObject({ correlationId: 'checkout-7', causationId: placed.eventIds[0] });
  });

  it('applies the effects of a redelivered event once (inbox)', async () => {
    let calls = 0;
    await startConsumer(async (delivery) => {
      calls += 1;
      await recordShipment(delivery);
    });
    await placeOrder('o-2');
    await waitFor(async () => (await shipments()).length === 1);
    // The same event again under a new message id, as after a redelivery past the dedupe window.
    const [original] = await bus.stored(bus.topology.eventsStream);
    const headers = natsHeaders();
    for (const [key, values] of original!.headers!) if (!key.startsWith('Nats-')) headers.set(key, values[0]!);
    await bus.js.publish(original!.subject, original!.data, { headers, msgID: 'redelivery-1' });
    await placeOrder('o-3');
    await waitFor(async () => (await shipments()).length === 2, { what: 'the next order' });
    expect(calls).toBe(2);
    expect((await shipments()).map((e) => e.streamId)).toEqual(['fulfilment/shipment/o-2', 'fulfilment/shipment/o-3']);
  });

  it('dead-letters a message that is not an event, with the reason and the original bytes, and carries on', async () => {
    await startConsumer(recordShipment);
    const garbage = encoder.encode('\u0000not json at all');
    await bus.js.publish(bus.topology.subject('evt.shop.order.order-placed'), garbage);
    await placeOrder('o-4');
    await waitFor(async () => (await shipments()).length === 1, { what: 'the valid order after the garbage' });
    const [letter] = await deadLetters();
    expect(bus.topology.unprefixed(letter!.subject)).toBe('dlq.fulfilment');
    expect(letter!.headers?.get(Headers.DeadLetterReason)).toMatch(/not a grid event/);
    expect(letter!.headers?.get(Headers.DeadLetterSubject)).toBe(bus.topology.subject('evt.shop.order.order-placed'));
    expect(Buffer.from(letter!.data)).toEqual(Buffer.from(garbage));
  });

  it('dead-letters an event whose payload breaks its contract, naming the field', async () => {
    await startConsumer(recordShipment);
    await db.store.append('shop/order/o-5', [{ type: OrderPlaced.type, data: { orderId: 'o-5', quantity: 0 } }]);
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'the dead letter' });
    const [letter] = await deadLetters();
    expect(letter!.headers?.get(Headers.DeadLetterReason)).toMatch(/quantity must not be less than 1 \(field quantity\)/);
    expect(await shipments()).toEqual([]);
  });

  it('retries a failing handler with backoff and applies its effect once when it recovers', async () => {
    let attempts = 0;
    await startConsumer(async (delivery) => {
      attempts += 1;
      await recordShipment(delivery);
      // Fails after writing: the write must roll back with the inbox entry.
      if (attempts < 3) throw new Error('warehouse offline');
    });
    await placeOrder('o-6');
    await waitFor(async () => (await shipments()).length === 1, { what: 'the eventual shipment' });
    expect(attempts).toBe(3);
    expect(await deadLetters()).toEqual([]);
  });

  it('dead-letters an event that keeps failing after the last delivery, and carries on', async () => {
    await startConsumer(
      async (delivery) => {
        if ((delivery.payload as OrderPlacedV1).orderId === 'o-7') throw new Error('always broken');
        await recordShipment(delivery);
      },
      { maxDeliveries: 3 },
    );
    await placeOrder('o-7');
    await placeOrder('o-8');
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'the dead letter' });
    const [letter] = await deadLetters();
    expect(letter!.headers?.get(Headers.DeadLetterReason)).toMatch(/failed 3 times: always broken/);
    expect(letter!.headers?.get(Headers.DeadLetterDeliveries)).toBe('3');
    const original = JSON.parse(decoder.decode(letter!.data));
    expect(original.data).toEqual({ orderId: 'o-7', quantity: 1 });
    await waitFor(async () => (await shipments()).length === 1);
    expect((await shipments())[0]!.streamId).toBe('fulfilment/shipment/o-8');
  });

  it('forgets inbox entries older than its retention, keeping recent ones', async () => {
    const consumer = await startConsumer(recordShipment);
    await placeOrder('o-10');
    await waitFor(async () => (await shipments()).length === 1);
    const inbox = `${db.schema}.inbox`;
    await db.store.query(
      `INSERT INTO ${inbox} (consumer, event_id, handled_at) VALUES ($1, '01890a5d-ac96-774b-bcce-b302099a8070', now() - interval '9 days')`,
      [consumer.durable],
    );
    expect(await consumer.pruneInbox()).toBe(1);
    const left = await db.store.query<{ n: string }>(`SELECT count(*) AS n FROM ${inbox} WHERE consumer = $1`, [consumer.durable]);
    expect(Number(left.rows[0]!.n)).toBe(1);
  });

  it('with concurrency, overlaps events of different aggregates and keeps each aggregate’s order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const finished: string[] = [];
    await startConsumer(
      async ({ event, payload }) => {
        const label = `${event.subject}#${(payload as OrderPlacedV1).quantity}`;
        started.push(label);
        if (label === 'shop/order/a#1') await gate;
        finished.push(label);
      },
      { concurrency: 4 },
    );
    await db.store.append('shop/order/a', [
      { type: OrderPlaced.type, data: { orderId: 'a', quantity: 1 } },
      { type: OrderPlaced.type, data: { orderId: 'a', quantity: 2 } },
    ]);
    await placeOrder('b');
    // b goes past a's first event, held up in its handler; a's second waits for a's first.
    await waitFor(() => finished.includes('shop/order/b#1'), { what: 'the other aggregate’s event while the first is held' });
    expect(started).not.toContain('shop/order/a#2');
    release();
    await waitFor(() => finished.length === 3, { what: 'every event' });
    expect(finished.filter((label) => label.startsWith('shop/order/a'))).toEqual(['shop/order/a#1', 'shop/order/a#2']);
  });

  it('starts before any relay has made the streams, and handles events once one publishes', async () => {
    const fresh = await openTestBus();
    const early = new EventConsumer({
      service: 'fulfilment',
      durable: 'fulfilment-early',
      filter: 'evt.shop.order.>',
      handler: recordShipment,
      nc: fresh.nc,
      store: db.store,
      registry: new ContractRegistry([OrderPlaced]),
      topology: fresh.topology,
      logger,
    });
    const lateRelay = new Relay({ store: db.store, nc: fresh.nc, topology: fresh.topology, logger, name: 'late-relay' });
    try {
      await early.start();
      await placeOrder('o-early');
      lateRelay.start();
      await waitFor(async () => (await shipments()).some((event) => event.streamId === 'fulfilment/shipment/o-early'), { what: 'the shipment once a relay publishes' });
    } finally {
      await early.stop();
      await lateRelay.stop();
      await fresh.dispose();
    }
  });

  it('hands on events of types it has no contract for, unvalidated', async () => {
    const seen: DeliveredEvent[] = [];
    await startConsumer(async (delivery) => {
      seen.push(delivery);
    });
    await db.store.append('shop/order/o-9', [{ type: 'mycelium.shop.order-cancelled.v1', data: { orderId: 'o-9' } }]);
    await waitFor(() => seen.length === 1);
    expect(seen[0]!.definition).toBeUndefined();
    expect(seen[0]!.payload).toEqual({ orderId: 'o-9' });
  });
});

