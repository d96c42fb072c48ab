import { jetstream, type JetStreamClient, jetstreamManager, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ensureStreams, Topology } from '@mycelium/messaging';
import { testNatsUrl } from './infrastructure.js';
import { uniqueName } from './isolation.js';

export interface TestBus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** A namespace of its own: no other test sees its subjects or streams. */
  topology: Topology;
  natsUrl: string;
  /** Every message stored on `stream` so far, oldest first. */
  stored(stream: string): Promise<JsMsg[]>;
  /** Deletes the test's streams and closes the connection. */
  dispose(): Promise<void>;
}

/** A connection to the real NATS server with the grid's streams in a fresh namespace. */
export async function openTestBus(): Promise<TestBus> {
  const natsUrl = testNatsUrl();
  const nc = await connect({ servers: natsUrl, name: 'mycelium-test' });
  const topology = new Topology(uniqueName('t'));
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, topology, { eventsMaxAgeMs: 60 * 60 * 1000 });
  const js = jetstream(nc);
  return {
    nc,
    js,
    jsm,
    topology,
    natsUrl,
    stored: async (stream) => {
      const info = await jsm.streams.info(stream);
      const messages: JsMsg[] = [];
      if (info.state.messages === 0) return messages;
      const consumer = await js.consumers.get(stream);
      const batch = await consumer.fetch({ max_messages: info.state.messages, expires: 2000 });
      for await (const msg of batch) {
        messages.push(msg);
        if (messages.length === info.state.messages) break;
      }
      return messages;
    },
    dispose: async () => {
      for (const stream of [topology.eventsStream, topology.deadLetterStream]) {
        await jsm.streams.delete(stream).catch(() => undefined);
      }
      await nc.close();
    },
  };
}
