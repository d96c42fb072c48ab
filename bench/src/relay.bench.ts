import { jetstream, jetstreamManager, type PubAck } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { toCloudEvent } from '@mycelium/contracts';
import { openEventStore } from '@mycelium/eventstore';
import { ensureStreams, Headers, Relay, Topology } from '@mycelium/messaging';
import { createLogger, startTracing } from '@mycelium/telemetry';
import { compare, json, report } from './report.js';

/**
 * Relay throughput: events already in the log → published and acknowledged by JetStream, against
 * raw async JetStream publishes of the same messages (same bytes, headers and message ids) with
 * the same number in flight, on the same server in the same run. Tracing is on, as in services.
 */
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const WINDOW = 2048;
const ROUNDS = 3;
const LATENCY_SAMPLES = 500;

const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
const stopTracing = startTracing({ serviceName: 'mycelium-bench' });
const logger = createLogger({ name: 'bench', level: 'warn' });
const schema = `bench_${Date.now()}`;
const store = await openEventStore({ databaseUrl, schema });
const nc = await connect({ servers: natsUrl, name: 'mycelium-bench' });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);
const topologies: Topology[] = [];
const freshTopology = async () => {
  const topology = new Topology(`bench${Date.now().toString(36)}${topologies.length}`);
  topologies.push(topology);
  await ensureStreams(jsm, topology, { eventsMaxAgeMs: 60 * 60 * 1000 });
  return topology;
};

try {
  const version = nc.info?.version ?? 'unknown';
  progress(`appending ${EVENTS.toLocaleString('en-US')} events to the log`);
  const data = { nodeId: 'node-3f9a1c', cpuCores: 8, memoryMiB: 32768, region: 'eu-west', tags: ['gpu', 'ssd'] };
  for (let i = 0; i < EVENTS; i += 500) {
    await store.append(
      `spores/node/${i % 97}`,
      Array.from({ length: Math.min(500, EVENTS - i) }, () => ({
        type: 'mycelium.spores.node-heartbeat-missed.v1',
        data,
        metadata: { correlationId: uuidv7(), tenant: 'acme' },
      })),
    );
  }
  const { events } = await store.readAll({ maxCount: EVENTS });

  progress(`relay vs raw JetStream publishes, ${ROUNDS} rounds`);
  const result = await compare(
    ROUNDS,
    async (round) => {
      const topology = await freshTopology();
      const relay = new Relay({ store, nc, topology, logger, name: `bench-${round}`, window: WINDOW });
      const started = performance.now();
      relay.start();
      while (relay.published < EVENTS) await new Promise((resolve) => setTimeout(resolve, 2));
      const rate = EVENTS / ((performance.now() - started) / 1000);
      await relay.stop();
      return rate;
    },
    async () => {
      const topology = await freshTopology();
      // Prepared before the clock starts: the baseline pays only for publishing.
      const messages = events.map((event) => {
        const headers = natsHeaders();
        headers.set(Headers.ContentType, 'application/cloudevents+json');
        headers.set(Headers.EventType, event.type);
        headers.set(Headers.Position, event.position.toString());
        headers.set(Headers.CorrelationId, String(event.metadata.correlationId));
        headers.set(Headers.Tenant, 'acme');
        return {
          subject: topology.eventSubject(event.streamId, event.type),
          data: new TextEncoder().encode(JSON.stringify(toCloudEvent(event))),
          headers,
          msgID: event.id,
        };
      });
      const started = performance.now();
      const inFlight: Promise<PubAck>[] = [];
      for (const message of messages) {
        inFlight.push(js.publish(message.subject, message.data, { headers: message.headers, msgID: message.msgID }));
        if (inFlight.length >= WINDOW) await inFlight.shift();
      }
      await Promise.all(inFlight);
      return EVENTS / ((performance.now() - started) / 1000);
    },
  );

  progress(`latency from append to a subscriber, ${LATENCY_SAMPLES} events appended one by one`);
  const topology = await freshTopology();
  const relay = new Relay({ store, nc, topology, logger, name: 'bench-latency' });
  await store.saveCheckpoint('bench-latency', (await store.headPosition()));
  relay.start();
  while (relay.state !== 'active') await new Promise((resolve) => setTimeout(resolve, 5));
  const appendedAt = new Map<string, number>();
  const latencies: number[] = [];
  const subscription = nc.subscribe(topology.subject('evt.>'), {
    callback: (_error, msg) => {
      const sent = appendedAt.get(msg.headers?.get('Nats-Msg-Id') ?? '');
      if (sent !== undefined) latencies.push(performance.now() - sent);
    },
  });
  for (let i = 0; i < LATENCY_SAMPLES; i += 1) {
    const before = performance.now();
    const { eventIds } = await store.append(`spores/node/latency`, [{ type: 'mycelium.spores.node-joined.v1', data }]);
    appendedAt.set(eventIds[0]!, before);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  while (latencies.length < LATENCY_SAMPLES) await new Promise((resolve) => setTimeout(resolve, 10));
  subscription.unsubscribe();
  await relay.stop();
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;

  const met = report('Mycelium relay', [`nats-server ${version}`, `${EVENTS.toLocaleString('en-US')} events`, `${WINDOW} in flight`], [
    {
      name: 'events in the log → acknowledged by JetStream',
      ours: result.ours,
      baseline: result.baseline,
      unit: 'ev/s',
      baselineName: 'raw async js.publish of the same messages (bytes, headers, message ids) with the same window',
      target: 0.8,
      note: 'ours includes reading the log, building each CloudEvent, a trace span per event and checkpointing',
    },
  ]);
  if (json) {
    process.stdout.write(`${JSON.stringify({ latencyMs: { p50: percentile(50), p90: percentile(90), p99: percentile(99) } })}\n`);
  } else {
    process.stdout.write(
      `  append → delivered to a NATS subscriber: p50 ${percentile(50).toFixed(1)} ms, p90 ${percentile(90).toFixed(1)} ms, ` +
        `p99 ${percentile(99).toFixed(1)} ms (${LATENCY_SAMPLES} events appended one at a time)\n\n` +
        `${met ? 'every target met' : 'some targets were missed'}\n`,
    );
  }
} finally {
  for (const topology of topologies) {
    for (const stream of [topology.eventsStream, topology.deadLetterStream]) await jsm.streams.delete(stream).catch(() => undefined);
  }
  await nc.close();
  await store.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await store.close();
  await stopTracing();
}
