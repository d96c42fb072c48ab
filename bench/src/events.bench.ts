import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { IssueApiKey, ListProjections, RebuildProjection } from '@mycelium/contracts';
import { openEventStore } from '@mycelium/eventstore';
import { CommandClient, Topology } from '@mycelium/messaging';
import { json } from './report.js';

/**
 * The event API under load (issue 6): the gateway as a process of its own on PostgreSQL, SUBSCRIBERS
 * SSE connections (operator key, no filter) from this process, RATE events a second appended for
 * SECONDS; figures: deliveries a second and the latency from each event's append to its arrival
 * (p50/p99, measured on MEASURED of the subscribers; the rest only count what they get). Then a
 * rebuild of the `aggregates` projection through `projections.rebuild`, timed until the new
 * generation serves, against a raw read of the same events from the log in this process.
 *
 * BENCH_SUBSCRIBERS, BENCH_RATE, BENCH_SECONDS, BENCH_REBUILD_EVENTS resize.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const MEASURED = Math.min(SUBSCRIBERS, 20);
const REBUILD_EVENTS = Number(process.env.BENCH_REBUILD_EVENTS ?? 200_000);
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';

const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

const stamp = `${Date.now().toString(36)}`;
const schema = `bench_events_${stamp}`;
const topology = new Topology(`benchevents${stamp}`);
const home = mkdtempSync(join(tmpdir(), 'bench-events-'));
const store = await openEventStore({ databaseUrl, schema });
const nc = await connect({ servers: natsUrl, name: 'bench-events' });
const client = new CommandClient(nc, topology);

const gateway = spawn(process.execPath, [join(root, 'apps', 'gateway', 'dist', 'main.js')], {
  env: { ...process.env, NATS_URL: natsUrl, DATABASE_URL: databaseUrl, MYCELIUM_DB_SCHEMA: schema, MYCELIUM_NAMESPACE: topology.namespace, MYCELIUM_HOME: home, PORT: '0', MYCELIUM_INGRESS_PORT: '0', LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const port = await new Promise<number>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the gateway did not start within 60 s')), 60_000);
  createInterface({ input: gateway.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'gateway is up' && entry.port) {
        clearTimeout(timer);
        resolve(entry.port);
      }
    } catch {
      // not a log line
    }
  });
  gateway.once('exit', (code) => reject(new Error(`the gateway exited (${code})`)));
});

interface Subscriber {
  received: number;
  latencies?: number[];
}

try {
  const issued = await client.send(IssueApiKey, { name: 'bench', scopes: ['admin'] });
  if (!issued.ok) throw new Error(issued.error.message);
  const key = issued.result.key;

  progress(`${SUBSCRIBERS} SSE subscribers connect`);
  const subscribers: Subscriber[] = [];
  const sockets: { destroy(): void }[] = [];
  await Promise.all(
    Array.from({ length: SUBSCRIBERS }, (_, index) => {
      const subscriber: Subscriber = index < MEASURED ? { received: 0, latencies: [] } : { received: 0 };
      subscribers.push(subscriber);
      return new Promise<void>((resolve, reject) => {
        const request = httpRequest({ host: '127.0.0.1', port, path: '/v1/events', headers: { authorization: `Bearer ${key}` }, agent: false }, (response) => {
          if (response.statusCode !== 200) return reject(new Error(`HTTP ${response.statusCode}`));
          let rest = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (!subscriber.latencies) {
              // Counting only: each event is one `id:` line.
              for (let at = chunk.indexOf('id: '); at !== -1; at = chunk.indexOf('id: ', at + 4)) subscriber.received += 1;
              return;
            }
            const text = rest + chunk;
            const frames = text.split('\n\n');
            rest = frames.pop()!;
            const now = Date.now();
            for (const frame of frames) {
              const data = frame.split('\n').find((line) => line.startsWith('data: '));
              if (!data) continue;
              subscriber.received += 1;
              subscriber.latencies!.push(now - (JSON.parse(data.slice(6)) as { data: { sentAt: number } }).data.sentAt);
            }
          });
          resolve();
        });
        request.on('error', reject);
        sockets.push(request);
        request.end();
      });
    }),
  );
  await sleep(1000);

  const total = RATE * SECONDS;
  progress(`appending ${total.toLocaleString('en-US')} events at ${RATE}/s for ${SECONDS} s`);
  const batch = Math.max(1, Math.round(RATE / 100));
  const started = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE) + batch);
    if (due > sent) {
      const count = due - sent;
      await store.append(`bench/load/${sent % 10}`, Array.from({ length: count }, (_, i) => ({ type: 'mycelium.bench.load-generated.v1', data: { n: sent + i, sentAt: Date.now() } })));
      sent = due;
    }
    await sleep(10);
  }
  const produced = (performance.now() - started) / 1000;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && subscribers.some((subscriber) => subscriber.received < total)) await sleep(100);
  const elapsed = (performance.now() - started) / 1000;
  const deliveries = subscribers.reduce((sum, subscriber) => sum + Math.min(subscriber.received, total), 0);
  const complete = subscribers.filter((subscriber) => subscriber.received >= total).length;
  const latencies = subscribers.flatMap((subscriber) => subscriber.latencies ?? []);
  for (const socket of sockets) socket.destroy();

  progress(`rebuild: ${REBUILD_EVENTS.toLocaleString('en-US')} more events in the log`);
  for (let i = 0; i < REBUILD_EVENTS; i += 1000) {
    await store.append(`bench/rebuild/${i % 997}`, Array.from({ length: Math.min(1000, REBUILD_EVENTS - i) }, () => ({ type: 'mycelium.bench.rebuild-filler.v1', data: { region: 'eu-west', cpuCores: 8 } })));
  }
  const head = await store.headPosition();
  let logEvents = 0;
  const rawStarted = performance.now();
  for (let after = 0n; ; ) {
    const page = await store.readAll({ after, maxCount: 2000 });
    logEvents += page.events.length;
    after = page.next;
    if (!page.isFull) break;
  }
  const rawSeconds = (performance.now() - rawStarted) / 1000;
  // The keeper has caught up with the events just written before the rebuild is timed.
  const caughtUp = async () => {
    const reply = await client.send(ListProjections, { name: 'aggregates' });
    return reply.ok && reply.result.projections[0]!.generations.some((generation) => generation.status === 'active' && BigInt(generation.position) >= head);
  };
  while (!(await caughtUp())) await sleep(100);
  const rebuildStarted = performance.now();
  const rebuild = await client.send(RebuildProjection, { name: 'aggregates' });
  if (!rebuild.ok) throw new Error(rebuild.error.message);
  for (;;) {
    const reply = await client.send(ListProjections, { name: 'aggregates' });
    if (reply.ok && reply.result.projections[0]!.generations.find((generation) => generation.generation === rebuild.result.generation)?.status === 'active') break;
    await sleep(50);
  }
  const rebuildSeconds = (performance.now() - rebuildStarted) / 1000;

  const results = {
    subscribers: SUBSCRIBERS,
    rate: RATE,
    seconds: SECONDS,
    events: total,
    producedInS: produced,
    deliveredPerS: deliveries / elapsed,
    complete,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length },
    rebuild: { events: logEvents, rawPerS: logEvents / rawSeconds, rebuildPerS: logEvents / rebuildSeconds, ratio: rawSeconds / rebuildSeconds },
  };
  const lines = [
    `Event API: ${SUBSCRIBERS} SSE subscribers, ${RATE} events/s appended for ${SECONDS} s (gateway process on PostgreSQL)`,
    `  delivered            ${Math.round(results.deliveredPerS).toLocaleString('en-US')} events/s (${deliveries.toLocaleString('en-US')} of ${(total * SUBSCRIBERS).toLocaleString('en-US')}; ${complete}/${SUBSCRIBERS} subscribers got every event)`,
    `  append → arrival     p50 ${Math.round(results.latencyMs.p50)} ms, p99 ${Math.round(results.latencyMs.p99)} ms (${latencies.length.toLocaleString('en-US')} samples on ${MEASURED} subscribers)`,
    `Projection rebuild (aggregates) over ${logEvents.toLocaleString('en-US')} events`,
    `  myc projections rebuild   ${Math.round(results.rebuild.rebuildPerS).toLocaleString('en-US')} events/s`,
    `  raw read of the log       ${Math.round(results.rebuild.rawPerS).toLocaleString('en-US')} events/s`,
    `  ratio                     ${results.rebuild.ratio.toFixed(2)}× (aim ≥ 0.5×: ${results.rebuild.ratio >= 0.5 ? 'met' : 'MISSED'})`,
  ];
  process.stdout.write(json ? `${JSON.stringify(results, null, 2)}\n` : `${lines.join('\n')}\n`);
} finally {
  gateway.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const jsm = await jetstreamManager(nc);
  for (const stream of [topology.eventsStream, topology.deadLetterStream]) await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
  await store.close();
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
  rmSync(home, { recursive: true, force: true });
}
