import { createHash } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { v7 as uuidv7 } from 'uuid';
import type { SqlDriver } from './drivers/driver.js';
import { EventStoreClosedError, EventStoreError, InvalidAppendError, WrongExpectedVersionError } from './errors.js';
import { MAX_EVENTS_PER_TRANSACTION, POSITION_SHIFT, migrate } from './migrations.js';
import type {
  AppendObserver,
  AppendOptions,
  AppendResult,
  EventMetadata,
  EventStore,
  EventStoreTransaction,
  ExpectedVersion,
  Lease,
  NewEvent,
  ReadAllByTimeOptions,
  ReadAllFilter,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  SqlExecutor,
  SqlResult,
  StreamAppend,
  SubscribeAllOptions,
} from './types.js';
import { Wakeup } from './wakeup.js';

const tracer = trace.getTracer('@mycelium/eventstore');
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_STREAM_ID_LENGTH = 512;
const DEFAULT_PAGE = 1000;
const MAX_ANY_ATTEMPTS = 20;

interface EventRow {
  position: string;
  stream_id: string;
  stream_version: number;
  event_id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata | null;
  recorded_at: Date | string;
}

interface PageRow extends Partial<EventRow> {
  bound: string;
  head: string | null;
}

interface Page extends ReadAllPage {
  /** Committed events exist above the readable bound: an older transaction is still open. */
  pending: boolean;
}

export interface SqlEventStoreOptions {
  schema?: string;
  observer?: AppendObserver;
  /** Longest idle wait of a subscription before it reads again without being woken. */
  maxIdleMs?: number;
}

/** The event store over any {@link SqlDriver}: the same SQL runs on PostgreSQL and PGlite. */
export class SqlEventStore implements EventStore {
  readonly schema: string;
  readonly #driver: SqlDriver;
  readonly #maxIdleMs: number;
  readonly #observer: AppendObserver;
  readonly #subscriptions = new Set<AbortController>();
  #closed = false;

  private constructor(driver: SqlDriver, options: SqlEventStoreOptions) {
    this.#driver = driver;
    this.schema = options.schema ?? 'mycelium';
    this.#maxIdleMs = options.maxIdleMs ?? 250;
    this.#observer = options.observer ?? {};
  }

  /** Opens the store on `driver`, running schema migrations first. */
  static async open(driver: SqlDriver, options: SqlEventStoreOptions = {}): Promise<SqlEventStore> {
    const schema = options.schema ?? 'mycelium';
    if (!SCHEMA_NAME.test(schema)) {
      throw new EventStoreError('INVALID_SCHEMA', `schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME}`);
    }
    await migrate(driver, schema);
    const store = new SqlEventStore(driver, { ...options, schema });
    await store.#refuseRewoundPositions();
    return store;
  }

  get kind(): 'postgres' | 'pglite' {
    return this.#driver.kind;
  }

  /**
   * Positions come from transaction ids, which only grow within one database cluster. A logical
   * restore into a fresh cluster would restart them below the stored ones, and readers would then
   * skip new events, so refuse to run instead.
   */
  async #refuseRewoundPositions(): Promise<void> {
    const { rows } = await this.#driver.query<{ head: string | null; next_xid: string }>(
      `SELECT (SELECT max(position) FROM ${this.schema}.events)::text AS head,
              pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid`,
    );
    const head = rows[0]?.head;
    if (head && BigInt(head) >> POSITION_SHIFT >= BigInt(rows[0]!.next_xid)) {
      throw new EventStoreError(
        'POSITIONS_WOULD_REWIND',
        `the database's transaction ids (${rows[0]!.next_xid}) are behind the event log (head ${head}); ` +
          'it was probably restored from a logical dump: restore with pg_upgrade or a physical backup, or re-import the events',
      );
    }
  }

  async append(streamId: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    this.#assertOpen();
    const result = await appendEvents(this.#driver, this.schema, streamId, events, options, undefined, this.#observer);
    this.#driver.announceAppend();
    return result;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen();
    return readStreamEvents(this.#driver, this.schema, streamId, options);
  }

  async streamVersion(streamId: string): Promise<number> {
    this.#assertOpen();
    return currentVersion(this.#driver, this.schema, streamId);
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllPage> {
    const { events, next, isFull } = await this.#readPage(options);
    return { events, next, isFull };
  }

  async readAllByTime(options: ReadAllByTimeOptions): Promise<ReadAllPage> {
    const { events, next, isFull } = await this.#readPage(options, { from: options.from, to: options.to });
    return { events, next, isFull };
  }

  async #readPage(options: ReadAllOptions, time?: { from: Date; to: Date }): Promise<Page> {
    this.#assertOpen();
    const s = this.schema;
    const after = options.after ?? 0n;
    const limit = options.maxCount ?? DEFAULT_PAGE;
    const params: unknown[] = [after.toString(), limit];
    const where = ['e.position > $1::bigint', 'e.position < b.bound', ...filterConditions(options, params)];
    if (time) {
      params.push(time.from.toISOString(), time.to.toISOString());
      where.push(`e.recorded_at >= $${params.length - 1}::timestamptz`, `e.recorded_at < $${params.length}::timestamptz`);
    }
    const { rows } = await this.#driver.query<PageRow>(
      `WITH b AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${POSITION_SHIFT} AS bound)
       SELECT b.bound::text AS bound, (SELECT max(position) FROM ${s}.events)::text AS head,
              r.position::text AS position, r.stream_id, r.stream_version, r.event_id, r.type, r.data,
              r.metadata, r.recorded_at
       FROM b LEFT JOIN LATERAL (
         SELECT e.* FROM ${s}.events e
         WHERE ${where.join(' AND ')}
         ORDER BY e.position
         LIMIT $2
       ) r ON true`,
      params,
    );
    const first = rows[0]!;
    const bound = BigInt(first.bound);
    const events = first.position === null || first.position === undefined ? [] : rows.map((row) => toRecorded(row as EventRow));
    // The join keeps the index order in practice, but SQL does not promise it, and sorting on the
    // server costs more than checking here.
    if (!isAscending(events)) events.sort((a, b) => (a.position < b.position ? -1 : 1));
    const isFull = events.length === limit;
    const lastRead = events.at(-1)?.position ?? after;
    // A short page examined everything below the bound, so the next read may start there.
    const next = isFull ? lastRead : maxBigint(lastRead, bound - 1n);
    const pending = first.head !== null && BigInt(first.head) >= bound;
    return { events, next, isFull, pending };
  }

  async headPosition(): Promise<bigint> {
    this.#assertOpen();
    const { rows } = await this.#driver.query<{ head: string | null }>(
      `SELECT max(position)::text AS head FROM ${this.schema}.events
       WHERE position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${POSITION_SHIFT})`,
    );
    return rows[0]?.head ? BigInt(rows[0].head) : 0n;
  }

  async positionAt(time: Date): Promise<bigint> {
    this.#assertOpen();
    const { rows } = await this.#driver.query<{ position: string | null }>(
      `SELECT max(position)::text AS position FROM ${this.schema}.events
       WHERE recorded_at <= $1::timestamptz AND position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${POSITION_SHIFT})`,
      [time.toISOString()],
    );
    return rows[0]?.position ? BigInt(rows[0].position) : 0n;
  }

  async *subscribeAll(options: SubscribeAllOptions = {}): AsyncGenerator<RecordedEvent> {
    for await (const page of this.subscribeAllPages(options)) yield* page;
  }

  async *subscribeAllPages(options: SubscribeAllOptions = {}): AsyncGenerator<RecordedEvent[]> {
    this.#assertOpen();
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    this.#subscriptions.add(stop);
    const wakeup = new Wakeup();
    const stopListening = await this.#driver.onAppend(() => wakeup.ring());
    const filter: ReadAllFilter = { streamPrefixes: options.streamPrefixes, types: options.types, mentioning: options.mentioning };
    const maxIdleMs = options.maxIdleMs ?? this.#maxIdleMs;
    let after = options.after ?? 0n;
    let pendingDelay = 1;
    try {
      while (!stop.signal.aborted) {
        const page = await this.#readPage({ ...filter, after, maxCount: options.batchSize ?? DEFAULT_PAGE });
        if (page.events.length > 0) {
          if (stop.signal.aborted) return;
          yield page.events;
        }
        after = page.next;
        if (page.isFull) continue;
        if (page.pending) {
          // Newer events are committed but wait for an older open transaction: look again soon,
          // backing off only while nothing moves (under a steady load something always is open).
          if (page.events.length > 0) pendingDelay = 1;
          await wakeup.wait(Math.min(pendingDelay, maxIdleMs), stop.signal);
          pendingDelay = Math.min(pendingDelay * 2, maxIdleMs);
          continue;
        }
        pendingDelay = 1;
        await wakeup.wait(maxIdleMs, stop.signal);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.#subscriptions.delete(stop);
      await stopListening();
    }
  }

  async transaction<T>(work: (tx: EventStoreTransaction) => Promise<T>): Promise<T> {
    this.#assertOpen();
    let appended = 0;
    const result = await this.#driver.transaction(async (sql) => {
      const tx: EventStoreTransaction = {
        schema: this.schema,
        query: (text, params, options) => sql.query(text, params, options),
        append: async (streamId, events, options) => {
          // Positions of one transaction share its id; later appends continue after earlier ones.
          if (appended + (events?.length ?? 0) >= MAX_EVENTS_PER_TRANSACTION) {
            throw new InvalidAppendError(`a transaction may append at most ${MAX_EVENTS_PER_TRANSACTION - 1} events`);
          }
          const appendResult = await appendEvents(sql, this.schema, streamId, events, options ?? {}, { earlierEvents: appended }, this.#observer);
          appended += events.length;
          return appendResult;
        },
        appendMany: async (appends) => {
          const count = appends.reduce((sum, part) => sum + (part.events?.length ?? 0), 0);
          if (appended + count >= MAX_EVENTS_PER_TRANSACTION) {
            throw new InvalidAppendError(`a transaction may append at most ${MAX_EVENTS_PER_TRANSACTION - 1} events`);
          }
          const results = await appendToStreams(sql, this.schema, appends, appended, this.#observer);
          appended += count;
          return results;
        },
        readStream: (streamId, options) => readStreamEvents(sql, this.schema, streamId, options ?? {}),
        readStreams: (streamIds) => readStreamsEvents(sql, this.schema, streamIds),
        markHandled: async (consumer, eventId) => {
          const { rowCount } = await sql.query(
            `INSERT INTO ${this.schema}.inbox (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`,
            [consumer, eventId],
          );
          return rowCount === 1;
        },
        saveCheckpoint: (name, position) => saveCheckpoint(sql, this.schema, name, position),
      };
      return work(tx);
    });
    if (appended > 0) this.#driver.announceAppend();
    return result;
  }

  async loadCheckpoint(name: string): Promise<bigint | undefined> {
    this.#assertOpen();
    const { rows } = await this.#driver.query<{ position: string }>(
      `SELECT position::text AS position FROM ${this.schema}.checkpoints WHERE name = $1`,
      [name],
    );
    return rows[0] ? BigInt(rows[0].position) : undefined;
  }

  async saveCheckpoint(name: string, position: bigint): Promise<void> {
    this.#assertOpen();
    await saveCheckpoint(this.#driver, this.schema, name, position);
  }

  async tryAcquireLease(name: string): Promise<Lease | undefined> {
    this.#assertOpen();
    return this.#driver.tryAcquireLease(`${this.schema}:${name}`);
  }

  async query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<SqlResult<Row>> {
    this.#assertOpen();
    return this.#driver.query<Row>(text, params);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscription of this.#subscriptions) subscription.abort();
    await this.#driver.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new EventStoreClosedError();
  }
}

async function appendEvents(
  sql: SqlExecutor,
  schema: string,
  streamId: string,
  events: NewEvent[],
  options: AppendOptions,
  transaction: { earlierEvents: number } | undefined,
  observer: AppendObserver,
): Promise<AppendResult> {
  validateAppend(streamId, events);
  const expected = options.expectedVersion ?? 'any';
  if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < 0)) {
    throw new InvalidAppendError(`expected version must be a non-negative integer, 'no-stream', 'stream-exists' or 'any'`);
  }
  return tracer.startActiveSpan(
    'eventstore.append',
    { kind: SpanKind.INTERNAL, attributes: { 'mycelium.stream': streamId, 'mycelium.events': events.length } },
    async (span) => {
      try {
        const ambient: Record<string, unknown> = { ...observer.ambientMetadata?.() };
        propagation.inject(context.active(), ambient);
        const eventIds = events.map((event) => event.id ?? uuidv7());
        const batch = JSON.stringify(
          events.map((event, i) => ({
            id: eventIds[i],
            type: event.type,
            data: event.data ?? null,
            metadata: { ...ambient, ...event.metadata },
          })),
        );
        const statement = appendStatement(schema, expected);
        const params = [streamId, batch, transaction?.earlierEvents ?? 0];
        if (statement.variant === 'exact') params.push(expected as number);
        // `any` and `stream-exists` have no version to break: when another writer takes the next
        // version first, take the one after. Inside a transaction a savepoint keeps the lost race
        // from aborting the caller's work.
        const retries = statement.variant === 'any' || statement.variant === 'stream-exists';
        const savepoint = retries && transaction !== undefined;
        for (let attempt = 1; ; attempt += 1) {
          let rows: { position: string; stream_version: number }[];
          if (savepoint) await sql.query('SAVEPOINT mycelium_append');
          try {
            ({ rows } = await sql.query(statement.text, params, { prepareAs: statement.name }));
            if (savepoint) await sql.query('RELEASE SAVEPOINT mycelium_append');
          } catch (error) {
            if (!isStreamVersionTaken(error)) throw error;
            if (savepoint) await sql.query('ROLLBACK TO SAVEPOINT mycelium_append');
            if (retries && attempt < MAX_ANY_ATTEMPTS) continue;
            // A failed exact-version insert has aborted the caller's transaction: nothing more can be read.
            const readable = transaction === undefined || savepoint;
            throw new WrongExpectedVersionError(streamId, expected, readable ? await currentVersion(sql, schema, streamId) : undefined);
          }
          if (rows.length === 0) {
            throw new WrongExpectedVersionError(streamId, expected, await currentVersion(sql, schema, streamId));
          }
          let first = BigInt(rows[0]!.position);
          let last = first;
          let nextExpectedVersion = 0;
          for (const row of rows) {
            const position = BigInt(row.position);
            if (position < first) first = position;
            if (position > last) last = position;
            nextExpectedVersion = Math.max(nextExpectedVersion, Number(row.stream_version));
          }
          observer.appended?.(streamId, events.length);
          return { nextExpectedVersion, firstPosition: first, lastPosition: last, eventIds };
        }
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

function isStreamVersionTaken(error: unknown): boolean {
  const { code, constraint, message } = error as { code?: string; constraint?: string; message?: string };
  return (
    code === '23505' &&
    (constraint === 'events_stream_version_unique' || (message ?? '').includes('events_stream_version_unique'))
  );
}

function validateAppend(streamId: string, events: NewEvent[]): void {
  if (typeof streamId !== 'string' || streamId.length === 0 || streamId.length > MAX_STREAM_ID_LENGTH) {
    throw new InvalidAppendError(`stream id must be a non-empty string of at most ${MAX_STREAM_ID_LENGTH} characters`);
  }
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidAppendError(`append to ${streamId} needs at least one event`);
  }
  if (events.length >= MAX_EVENTS_PER_TRANSACTION) {
    throw new InvalidAppendError(`append to ${streamId} has ${events.length} events; the limit is ${MAX_EVENTS_PER_TRANSACTION - 1} per transaction`);
  }
  for (const event of events) {
    if (typeof event.type !== 'string' || event.type.length === 0) {
      throw new InvalidAppendError(`every event appended to ${streamId} needs a type`);
    }
  }
}

type AppendVariant = 'any' | 'no-stream' | 'stream-exists' | 'exact';
interface AppendStatement {
  variant: AppendVariant;
  name: string;
  text: string;
}
const appendStatements = new Map<string, AppendStatement>();

/**
 * One INSERT per append, prepared once per connection. The unique (stream, version) index is the
 * concurrency check: a writer that lost the race gets a unique violation. Parameters: $1 stream,
 * $2 the events as a JSON array, $3 events this transaction appended before, $4 expected version.
 */
function appendStatement(s: string, expected: ExpectedVersion): AppendStatement {
  const variant: AppendVariant =
    expected === 'no-stream' || expected === 0 ? 'no-stream' : typeof expected === 'number' ? 'exact' : expected;
  const key = `${s}:${variant}`;
  let statement = appendStatements.get(key);
  if (statement) return statement;
  const current = `(SELECT COALESCE(max(stream_version), 0) AS v FROM ${s}.events WHERE stream_id = $1)`;
  const { from, where } = {
    'no-stream': { from: '(SELECT 0 AS v)', where: '' },
    // the stream must really be at version $4, not shorter: no gaps
    exact: { from: '(SELECT $4::int AS v)', where: `WHERE EXISTS (SELECT 1 FROM ${s}.events WHERE stream_id = $1 AND stream_version = $4::int)` },
    any: { from: current, where: '' },
    'stream-exists': { from: current, where: 'WHERE cur.v > 0' },
  }[variant];
  const text = `INSERT INTO ${s}.events (position, stream_id, stream_version, event_id, type, data, metadata)
    SELECT (pg_current_xact_id()::text::bigint << ${POSITION_SHIFT}) + $3::bigint + n.ord - 1, $1, cur.v + n.ord,
           (n.e->>'id')::uuid, n.e->>'type', n.e->'data', n.e->'metadata'
    FROM ${from} cur, jsonb_array_elements($2::jsonb) WITH ORDINALITY AS n(e, ord)
    ${where}
    RETURNING position::text AS position, stream_version`;
  statement = { variant, name: `myc_append_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
  appendStatements.set(key, statement);
  return statement;
}

/**
 * The multi-stream append: one INSERT that takes every stream's events only if every stream is at
 * its expected version (an existing stream must have exactly that version; a new one is held by
 * the unique index). Positions run on across the streams in the order given.
 */
async function appendToStreams(sql: SqlExecutor, schema: string, appends: StreamAppend[], earlierEvents: number, observer: AppendObserver): Promise<AppendResult[]> {
  if (appends.length === 0) return [];
  const seen = new Set<string>();
  for (const { streamId, events, expectedVersion } of appends) {
    validateAppend(streamId, events);
    if (seen.has(streamId)) throw new InvalidAppendError(`stream ${streamId} appears twice in one append; give it all its events at once`);
    seen.add(streamId);
    if (expectedVersion !== 'no-stream' && (!Number.isInteger(expectedVersion) || expectedVersion < 0)) {
      throw new InvalidAppendError(`expected version of ${streamId} must be a non-negative integer or 'no-stream'`);
    }
  }
  return tracer.startActiveSpan(
    'eventstore.append-many',
    { kind: SpanKind.INTERNAL, attributes: { 'mycelium.streams': appends.length, 'mycelium.events': appends.reduce((sum, part) => sum + part.events.length, 0) } },
    async (span) => {
      try {
        const ambient: Record<string, unknown> = { ...observer.ambientMetadata?.() };
        propagation.inject(context.active(), ambient);
        const parts = appends.map(({ streamId, events, expectedVersion }) => ({
          stream: streamId,
          expected: expectedVersion === 'no-stream' ? 0 : expectedVersion,
          events: events.map((event) => ({ id: event.id ?? uuidv7(), type: event.type, data: event.data ?? null, metadata: { ...ambient, ...event.metadata } })),
        }));
        const statement = appendManyStatement(schema);
        let rows: { stream_id: string; position: string; stream_version: number }[];
        try {
          ({ rows } = await sql.query(statement.text, [JSON.stringify(parts), earlierEvents], { prepareAs: statement.name }));
        } catch (error) {
          // A new stream that exists after all: the unique index refused it and the transaction is aborted.
          if (!isStreamVersionTaken(error)) throw error;
          const taken = /\(stream_id, stream_version\)=\((.*), \d+\)/.exec((error as { detail?: string }).detail ?? '')?.[1];
          const part = parts.find((candidate) => candidate.stream === taken) ?? parts[0]!;
          throw new WrongExpectedVersionError(part.stream, appends.find((candidate) => candidate.streamId === part.stream)!.expectedVersion, undefined);
        }
        if (rows.length === 0) {
          // An existing stream was not at its expected version; nothing was written, so it can be read.
          const { rows: versions } = await sql.query<{ stream_id: string; version: number }>(
            `SELECT stream_id, max(stream_version) AS version FROM ${schema}.events WHERE stream_id = ANY($1::text[]) GROUP BY stream_id`,
            [parts.map((part) => part.stream)],
          );
          const actual = new Map(versions.map((row) => [row.stream_id, Number(row.version)]));
          const moved = parts.find((part) => (actual.get(part.stream) ?? 0) !== part.expected) ?? parts[0]!;
          throw new WrongExpectedVersionError(moved.stream, appends.find((candidate) => candidate.streamId === moved.stream)!.expectedVersion, actual.get(moved.stream) ?? 0);
        }
        const byStream = new Map<string, { first: bigint; last: bigint; version: number }>();
        for (const row of rows) {
          const position = BigInt(row.position);
          const current = byStream.get(row.stream_id);
          if (!current) byStream.set(row.stream_id, { first: position, last: position, version: Number(row.stream_version) });
          else {
            if (position < current.first) current.first = position;
            if (position > current.last) current.last = position;
            current.version = Math.max(current.version, Number(row.stream_version));
          }
        }
        return parts.map((part) => {
          observer.appended?.(part.stream, part.events.length);
          const written = byStream.get(part.stream)!;
          return { nextExpectedVersion: written.version, firstPosition: written.first, lastPosition: written.last, eventIds: part.events.map((event) => event.id) };
        });
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

const appendManyStatements = new Map<string, AppendStatement>();

/** Parameters: $1 the streams as a JSON array of { stream, expected, events }, $2 events this transaction appended before. */
function appendManyStatement(s: string): AppendStatement {
  let statement = appendManyStatements.get(s);
  if (statement) return statement;
  const text = `WITH input AS (
      SELECT x.b->>'stream' AS stream_id, (x.b->>'expected')::int AS expected, x.b->'events' AS events, x.ord AS part
      FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(b, ord)
    ), rows AS (
      SELECT i.stream_id, i.expected + n.ord AS stream_version, n.e, row_number() OVER (ORDER BY i.part, n.ord) AS seq
      FROM input i, jsonb_array_elements(i.events) WITH ORDINALITY AS n(e, ord)
    )
    INSERT INTO ${s}.events (position, stream_id, stream_version, event_id, type, data, metadata)
    SELECT (pg_current_xact_id()::text::bigint << ${POSITION_SHIFT}) + $2::bigint + r.seq - 1, r.stream_id, r.stream_version,
           (r.e->>'id')::uuid, r.e->>'type', r.e->'data', r.e->'metadata'
    FROM rows r
    WHERE NOT EXISTS (
      SELECT 1 FROM input i WHERE i.expected > 0
        AND NOT EXISTS (SELECT 1 FROM ${s}.events e WHERE e.stream_id = i.stream_id AND e.stream_version = i.expected)
    )
    RETURNING stream_id, position::text AS position, stream_version`;
  statement = { variant: 'exact', name: `myc_append_many_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
  appendManyStatements.set(s, statement);
  return statement;
}

async function readStreamsEvents(sql: SqlExecutor, schema: string, streamIds: string[]): Promise<Map<string, RecordedEvent[]>> {
  const streams = new Map<string, RecordedEvent[]>(streamIds.map((streamId) => [streamId, []]));
  if (streamIds.length === 0) return streams;
  const { rows } = await sql.query<EventRow>(
    `SELECT position::text AS position, stream_id, stream_version, event_id, type, data, metadata, recorded_at
     FROM ${schema}.events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
    [[...new Set(streamIds)]],
  );
  for (const row of rows) streams.get(row.stream_id)!.push(toRecorded(row));
  return streams;
}

async function currentVersion(sql: SqlExecutor, schema: string, streamId: string): Promise<number> {
  const { rows } = await sql.query<{ version: number }>(
    `SELECT COALESCE(max(stream_version), 0) AS version FROM ${schema}.events WHERE stream_id = $1`,
    [streamId],
  );
  return Number(rows[0]?.version ?? 0);
}

async function readStreamEvents(
  sql: SqlExecutor,
  schema: string,
  streamId: string,
  options: ReadStreamOptions,
): Promise<RecordedEvent[]> {
  const params: unknown[] = [streamId, options.fromVersion ?? 1];
  let limit = '';
  if (options.maxCount !== undefined) {
    params.push(options.maxCount);
    limit = 'LIMIT $3';
  }
  const { rows } = await sql.query<EventRow>(
    `SELECT position::text AS position, stream_id, stream_version, event_id, type, data, metadata, recorded_at
     FROM ${schema}.events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version ${limit}`,
    params,
  );
  return rows.map(toRecorded);
}

async function saveCheckpoint(sql: SqlExecutor, schema: string, name: string, position: bigint): Promise<void> {
  await sql.query(
    `INSERT INTO ${schema}.checkpoints (name, position) VALUES ($1, $2::bigint)
     ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
    [name, position.toString()],
  );
}

function filterConditions(filter: ReadAllFilter, params: unknown[]): string[] {
  const conditions: string[] = [];
  if (filter.streamPrefixes?.length) {
    params.push(JSON.stringify(filter.streamPrefixes.map((prefix) => `${escapeLike(prefix)}%`)));
    conditions.push(`e.stream_id LIKE ANY (ARRAY(SELECT jsonb_array_elements_text($${params.length}::jsonb)))`);
  }
  if (filter.types?.length) {
    params.push(JSON.stringify(filter.types));
    conditions.push(`e.type = ANY (ARRAY(SELECT jsonb_array_elements_text($${params.length}::jsonb)))`);
  }
  if (filter.mentioning !== undefined) {
    params.push(filter.mentioning);
    const id = `$${params.length}::text`;
    params.push(`%${escapeLike(filter.mentioning)}%`);
    const within = `$${params.length}::text`;
    params.push(`%${escapeLike(JSON.stringify(filter.mentioning))}%`);
    const asValue = `$${params.length}::text`;
    conditions.push(
      `(e.stream_id LIKE ${within} OR e.metadata->>'correlationId' = ${id} OR e.metadata->>'causationId' = ${id} OR e.metadata->>'tenant' = ${id} OR e.data::text LIKE ${asValue})`,
    );
  }
  return conditions;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (match) => `\\${match}`);
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    position: BigInt(row.position),
    type: row.type,
    data: row.data,
    metadata: row.metadata ?? {},
    recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
  };
}

function isAscending(events: RecordedEvent[]): boolean {
  for (let i = 1; i < events.length; i += 1) if (events[i]!.position < events[i - 1]!.position) return false;
  return true;
}

function maxBigint(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
