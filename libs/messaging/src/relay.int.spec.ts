import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Headers } from './headers.js';
import { Relay } from './relay.js';

const logger = createLogger({ name: 'relay-test', level: 'warn' });
const decoder = new TextDecoder();

describe('relay', () => {
  let db: TestStore;
  let bus: TestBus;
  const relays: Relay[] = [];

  const startRelay = (options: { window?: number } = {}) => {
    const relay = new Relay({ store: db.store, nc: bus.nc, topology: bus.topology, logger, standbyPollMs: 50, ...options });
    relays.push(relay);
    relay.start();
    return relay;
  };

  beforeEach(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));
    await bus.dispose();
    await db.dispose();
  });

  it('publishes every event as a CloudEvent on its subject, with the event id as message id', async () => {
    const appended = await db.store.append(
      'deployment/app/a1',
      [
        { type: 'mycelium.deployment.app-deployed.v1', data: { name: 'web' }, metadata: { correlationId: 'c-1', tenant: 'acme' } },
        { type: 'mycelium.deployment.app-scaled.v1', data: { replicas: 3 } },
      ],
      { expectedVersion: 'no-stream' },
    );
    const relay = startRelay();
    await waitFor(() => relay.published === 2, { what: 'two publishes' });

    const stored = await bus.stored(bus.topology.eventsStream);
    expect(stored.map((msg) => bus.topology.unprefixed(msg.subject))).toEqual([
      'evt.deployment.app.app-deployed',
      'evt.deployment.app.app-scaled',
    ]);
    expect(stored.map((msg) => msg.headers?.get('Nats-Msg-Id'))).toEqual(appended.eventIds);
    const first = JSON.parse(decoder.decode(stored[0]!.data));
    expect(first).toMatchObject({
      specversion: '1.0',
      id: appended.eventIds[0],
      type: 'mycelium.deployment.app-deployed.v1',
      source: 'mycelium/deployment',
      subject: 'deployment/app/a1',
      data: { name: 'web' },
      correlationid: 'c-1',
      tenant: 'acme',
      streamversion: 1,
      position: appended.firstPosition.toString(),
    });
    expect(stored[0]!.headers?.get(Headers.Position)).toBe(appended.firstPosition.toString());
    await waitFor(async () => (await db.store.loadCheckpoint('relay')) === appended.lastPosition, { what: 'the checkpoint' });
  });

  it('follows new events live after catching up', async () => {
    await db.store.append('billing/account/1', [{ type: 'mycelium.billing.credited.v1', data: {} }]);
    const relay = startRelay();
    await waitFor(() => relay.published === 1);
    await db.store.append('billing/account/1', [{ type: 'mycelium.billing.debited.v1', data: {} }]);
    await waitFor(() => relay.published === 2, { what: 'the live event' });
  });

  it('lets one relay publish at a time; a standby takes over from the checkpoint without duplicates', async () => {
    const first = startRelay({ window: 16 });
    const second = startRelay({ window: 16 });
    await waitFor(() => first.state === 'active' || second.state === 'active');
    const [active, standby] = first.state === 'active' ? [first, second] : [second, first];
    expect(standby.state).toBe('standby');

    const total = 300;
    for (let i = 0; i < total / 3; i += 1) {
      await db.store.append(`spores/node/${i % 7}`, [1, 2, 3].map((n) => ({ type: 'mycelium.spores.node-seen.v1', data: { i, n } })));
      if (i === 40) await active.stop();
    }
    await waitFor(() => standby.state === 'active', { what: 'the standby to take over' });
    await waitFor(async () => (await bus.jsm.streams.info(bus.topology.eventsStream)).state.messages >= total, {
      what: `${total} events on JetStream`,
    });
    const stored = await bus.stored(bus.topology.eventsStream);
    const ids = stored.map((msg) => msg.headers?.get('Nats-Msg-Id'));
    const inLog = await db.store.readAll({ maxCount: 1000 });
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(inLog.events.map((event) => event.id));
  });

  it('resumes after what JetStream already holds when its checkpoint is behind, storing nothing twice', async () => {
    await db.store.append('storage/chunk/c', [1, 2, 3, 4].map((n) => ({ type: 'mycelium.storage.chunk-stored.v1', data: { n } })));
    const relay = startRelay();
    await waitFor(() => relay.published === 4);
    await relay.stop();
    // As if the relay had died before saving its checkpoint.
    await db.store.saveCheckpoint('relay', 0n);
    const again = startRelay();
    await waitFor(() => again.state === 'active');
    const { lastPosition } = await db.store.append('storage/chunk/c', [{ type: 'mycelium.storage.chunk-stored.v1', data: { n: 5 } }]);
    await waitFor(() => again.published === 1, { what: 'the new event' });
    expect((await bus.jsm.streams.info(bus.topology.eventsStream)).state.messages).toBe(5);
    await waitFor(async () => (await db.store.loadCheckpoint('relay')) === lastPosition, { what: 'the checkpoint' });
  });

  it('chains each publish to the one before, and resumes in order when the chain breaks', async () => {
    const relay = startRelay();
    const first = await db.store.append('spores/node/n1', [{ type: 'mycelium.spores.node-seen.v1', data: { n: 1 } }]);
    await waitFor(() => relay.published === 1);
    // A message that is not the relay's lands on the stream: the next publish, which expects the
    // relay's own last message, is refused, and the relay resumes from the stream's real tail.
    await bus.js.publish(bus.topology.subject('evt.spores.node.node-seen'), new TextEncoder().encode('{}'));
    const second = await db.store.append('spores/node/n1', [{ type: 'mycelium.spores.node-seen.v1', data: { n: 2 } }]);
    await waitFor(async () => (await bus.jsm.streams.info(bus.topology.eventsStream)).state.messages === 3, { what: 'the event after the break' });
    const stored = await bus.stored(bus.topology.eventsStream);
    expect(stored.map((msg) => msg.headers?.get(Headers.Position) ?? 'foreign')).toEqual([
      first.lastPosition.toString(),
      'foreign',
      second.lastPosition.toString(),
    ]);
    expect(stored[2]!.headers?.get('Nats-Expected-Last-Sequence')).toBe('2');
  });

  it('stops at once when asked to stop while it is still starting', async () => {
    const relay = startRelay();
    await relay.stop();
    expect(relay.state).toBe('stopped');
  });
});
