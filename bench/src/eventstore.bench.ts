import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { openEventStore } from '@mycelium/eventstore';
import { compare, json, report, seconds, throughput } from './report.js';

/**
 * Event store throughput on the real PostgreSQL (DATABASE_URL), against the same work done with
 * plain SQL on a table of the same shape in the same database, in the same run.
 */
const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_${Date.now()}`;
const WRITERS = 8;
const BATCH = 100;
const ROUNDS = 3;
const REPLAY_EVENTS = 300_000;
const PAGE = 5000;

const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
const store = await openEventStore({ databaseUrl: url, schema, poolSize: WRITERS });
const pool = new pg.Pool({ connectionString: url, max: WRITERS });
const facts: string[] = [];
try {
  const settings = await pool.query<{ version: string; fsync: string; commit: string }>(
    `SELECT split_part(version(), ' ', 2) AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS commit`,
  );
  const { version, fsync, commit } = settings.rows[0]!;
  facts.push(`PostgreSQL ${version}`, `fsync=${fsync}`, `synchronous_commit=${commit}`, `${seconds} s per timed run`);
  // The baseline table has the event log's columns and indexes; positions come from a sequence.
  await pool.query(`CREATE TABLE ${schema}.raw_events (LIKE ${schema}.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`);
  await pool.query(`CREATE SEQUENCE ${schema}.raw_position`);

  const type = 'mycelium.spores.node-heartbeat-missed.v1';
  const data = { nodeId: 'node-3f9a1c', cpuCores: 8, memoryMiB: 32768, region: 'eu-west', tags: ['gpu', 'ssd'], missed: 3 };
  const metadata = { correlationId: uuidv7(), causationId: uuidv7(), tenant: 'acme' };
  const dataJson = JSON.stringify(data);
  const metadataJson = JSON.stringify(metadata);
  const rawInsert = `INSERT INTO ${schema}.raw_events (position, stream_id, stream_version, event_id, type, data, metadata)
                     VALUES (nextval('${schema}.raw_position'), $1, $2, $3, $4, $5, $6)`;

  progress(`single-event appends, ${WRITERS} writers`);
  const single = await compare(
    ROUNDS,
    (round) =>
      throughput(WRITERS, (writer, i) =>
        store.append(`bench/single/${round}-${writer}`, [{ type, data, metadata }], { expectedVersion: i === 0 ? 'no-stream' : i }),
      ),
    (round) =>
      throughput(WRITERS, (writer, i) =>
        pool.query(rawInsert, [`raw/single/${round}-${writer}`, i + 1, uuidv7(), type, dataJson, metadataJson]),
      ),
  );

  progress(`batched appends, ${BATCH} events a transaction, ${WRITERS} writers`);
  // Every row carries its own id, version, payload and metadata, as events do.
  const rows = Array.from({ length: BATCH }, (_, n) => `(nextval('${schema}.raw_position'), $1, $${n * 4 + 2}, $${n * 4 + 3}, '${type}', $${n * 4 + 4}, $${n * 4 + 5})`);
  const rawBatch = `INSERT INTO ${schema}.raw_events (position, stream_id, stream_version, event_id, type, data, metadata) VALUES ${rows.join(', ')}`;
  const batched = await compare(
    ROUNDS,
    async (round) =>
      BATCH *
      (await throughput(WRITERS, (writer, i) =>
        store.append(
          `bench/batch/${round}-${writer}`,
          Array.from({ length: BATCH }, () => ({ type, data, metadata })),
          { expectedVersion: i === 0 ? 'no-stream' : i * BATCH },
        ),
      )),
    async (round) =>
      BATCH *
      (await throughput(WRITERS, (writer, i) =>
        pool.query(rawBatch, [
          `raw/batch/${round}-${writer}`,
          ...Array.from({ length: BATCH }, (_, n) => [i * BATCH + n + 1, uuidv7(), JSON.stringify(data), JSON.stringify(metadata)]).flat(),
        ]),
      )),
  );

  progress(`read-all replay of ${REPLAY_EVENTS.toLocaleString('en-US')} events into an in-memory projection`);
  // The same projection for both: events per stream, per type, and a sum over the payload.
  const project = () => {
    const perStream = new Map<string, number>();
    const perType = new Map<string, number>();
    let cores = 0;
    return {
      apply(streamId: string, eventType: string, payload: { cpuCores?: number }) {
        perStream.set(streamId, (perStream.get(streamId) ?? 0) + 1);
        perType.set(eventType, (perType.get(eventType) ?? 0) + 1);
        cores += payload.cpuCores ?? 0;
      },
      get size() {
        return cores;
      },
    };
  };
  const timed = async (work: () => Promise<number>) => {
    const started = performance.now();
    const count = await work();
    return count / ((performance.now() - started) / 1000);
  };
  const replay = await compare(
    ROUNDS,
    () =>
      timed(async () => {
        const projection = project();
        let after = 0n;
        let count = 0;
        while (count < REPLAY_EVENTS) {
          const page = await store.readAll({ after, maxCount: PAGE });
          for (const event of page.events) projection.apply(event.streamId, event.type, event.data as { cpuCores?: number });
          count += page.events.length;
          after = page.next;
          if (!page.isFull) break;
        }
        return count;
      }),
    () =>
      timed(async () => {
        const projection = project();
        let after = '0';
        let count = 0;
        while (count < REPLAY_EVENTS) {
          const { rows: page } = await pool.query<{ position: string; stream_id: string; type: string; data: { cpuCores?: number } }>(
            `SELECT position, stream_id, stream_version, event_id, type, data, metadata, recorded_at
             FROM ${schema}.events WHERE position > $1 ORDER BY position LIMIT ${PAGE}`,
            [after],
          );
          for (const row of page) projection.apply(row.stream_id, row.type, row.data);
          count += page.length;
          if (page.length < PAGE) break;
          after = page.at(-1)!.position;
        }
        return count;
      }),
  );
  const logged = (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.events`)).rows[0]!.n;

  const met = report('Mycelium event store', facts, [
    {
      name: `single-event appends, expected version, ${WRITERS} writers`,
      ours: single.ours,
      baseline: single.baseline,
      unit: 'ev/s',
      baselineName: `a plain parameterised INSERT of the same rows into a table with the same indexes, from ${WRITERS} connections`,
      target: 0.8,
    },
    {
      name: `batched appends, ${BATCH} events a transaction`,
      ours: batched.ours,
      baseline: batched.baseline,
      unit: 'ev/s',
      baselineName: `one multi-row INSERT of ${BATCH} rows per statement, ${WRITERS} connections`,
      target: 0.8,
    },
    {
      name: `read-all replay into a projection`,
      ours: replay.ours,
      baseline: replay.baseline,
      unit: 'ev/s',
      baselineName: `keyset-paged SELECT of the same rows (${PAGE} a page) into the same projection`,
      target: 0.5,
      note: `replayed up to ${REPLAY_EVENTS.toLocaleString('en-US')} of ${Number(logged).toLocaleString('en-US')} logged events`,
    },
  ]);
  if (!json) process.stdout.write(met ? 'every target met\n' : 'some targets were missed\n');
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await pool.end();
  await store.close();
}
