/**
 * The event store port. Streams are named `<service>/<aggregate>/<id>`; stream versions count the
 * events in a stream (the first event has version 1); positions order the whole log.
 */

/** What a caller expects the stream's current version to be when it appends. */
export type ExpectedVersion =
  /** the stream has exactly this many events (0 is the same as `no-stream`) */
  | number
  /** the stream must not exist yet */
  | 'no-stream'
  /** the stream must already have at least one event */
  | 'stream-exists'
  /** no check */
  | 'any';

/** Facts about an event that are not its payload; they travel as CloudEvents extensions. */
export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  tenant?: string;
  traceparent?: string;
  tracestate?: string;
  [key: string]: unknown;
}

export interface NewEvent {
  /** UUIDv7; generated when absent. */
  id?: string;
  /** Versioned type name, e.g. `mycelium.deployment.app-deployed.v1`. */
  type: string;
  data: unknown;
  metadata?: EventMetadata;
}

export interface RecordedEvent<Data = unknown> {
  id: string;
  streamId: string;
  /** 1-based version of this event within its stream. */
  streamVersion: number;
  /** Global position: strictly increasing in the order every reader sees. */
  position: bigint;
  type: string;
  data: Data;
  metadata: EventMetadata;
  recordedAt: Date;
}

export interface AppendOptions {
  expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append; pass it as the next expected version. */
  nextExpectedVersion: number;
  firstPosition: bigint;
  lastPosition: bigint;
  /** The ids given to the appended events, in order. */
  eventIds: string[];
}

export interface ReadStreamOptions {
  /** First stream version to return (inclusive); default 1. */
  fromVersion?: number;
  maxCount?: number;
}

export interface ReadAllFilter {
  /** Only streams whose id starts with one of these prefixes, e.g. `deployment/`. */
  streamPrefixes?: string[];
  /** Only these event types. */
  types?: string[];
  /**
   * Only events about this id: its stream's id contains it, its data holds it as a whole string
   * value, or it is the event's correlation id, causation id or tenant. For operators' timelines:
   * it reads every event in the range it is given.
   */
  mentioning?: string;
}

export interface ReadAllOptions extends ReadAllFilter {
  /** Exclusive: events after this position. Default: the start of the log. */
  after?: bigint;
  maxCount?: number;
}

export interface ReadAllByTimeOptions extends ReadAllFilter {
  /** Inclusive lower bound of the recording time. */
  from: Date;
  /** Exclusive upper bound of the recording time. */
  to: Date;
  /** Exclusive: continue after this position (for paging). */
  after?: bigint;
  maxCount?: number;
}

export interface ReadAllPage {
  events: RecordedEvent[];
  /**
   * Where the next read continues (exclusive). It can be beyond the last returned event when a
   * filter skipped events: everything up to it has been examined.
   */
  next: bigint;
  /** True when the read stopped at `maxCount`, so more may be readable right away. */
  isFull: boolean;
}

export interface SubscribeAllOptions extends ReadAllFilter {
  /** Exclusive start position; default the start of the log. */
  after?: bigint;
  /** Events fetched per read. */
  batchSize?: number;
  /** Stops the subscription (the iterator then ends). */
  signal?: AbortSignal;
  /** Longest wait between reads when idle, for writers in other processes that do not notify. */
  maxIdleMs?: number;
}

/** A SQL session: the pool outside a transaction, the transaction inside one. */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[], options?: QueryOptions): Promise<SqlResult<Row>>;
}

export interface QueryOptions {
  /**
   * Keep the statement prepared on each connection under this name: hot statements then skip
   * parsing and planning. The same name must always carry the same text.
   */
  prepareAs?: string;
}

export interface SqlResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** One stream's part of an append to several: its events at the version the stream must be at. */
export interface StreamAppend {
  streamId: string;
  events: NewEvent[];
  /** The stream's current version (0 or `no-stream`: it must not exist). */
  expectedVersion: number | 'no-stream';
}

/** Work done in one database transaction: appends, reads and the caller's own SQL commit together. */
export interface EventStoreTransaction extends SqlExecutor {
  append(streamId: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  /**
   * Appends to several streams in one statement, each at its expected version: all of them or,
   * with a `WrongExpectedVersionError` naming a stream that moved, none. For a unit of work that
   * touches many streams (a round's close and the trust of each participant), where an append per
   * stream would hold the transaction open for as many round trips.
   */
  appendMany(appends: StreamAppend[]): Promise<AppendResult[]>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Several whole streams in one read; a stream that does not exist reads as empty. */
  readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>>;
  /**
   * Records that `consumer` has handled `eventId`. Returns false when it already had, so the caller
   * skips the work: this is the inbox that makes handlers idempotent.
   */
  markHandled(consumer: string, eventId: string): Promise<boolean>;
  saveCheckpoint(name: string, position: bigint): Promise<void>;
  /** Schema that holds the store's tables, for the caller's own statements. */
  readonly schema: string;
}

/** Hooks a process attaches to every append: ambient metadata in, counts out. */
export interface AppendObserver {
  /** Metadata added to every appended event (the event's own metadata wins), e.g. the correlation id of the message being handled. */
  ambientMetadata?(): EventMetadata | undefined;
  /** Called after events were appended (inside a transaction: before it commits). */
  appended?(streamId: string, count: number): void;
}

/** Held by exactly one process at a time; lost when that process dies or loses the database. */
export interface Lease {
  readonly name: string;
  /** Resolves when the lease is lost (connection gone) or released. */
  readonly lost: Promise<void>;
  readonly isHeld: boolean;
  release(): Promise<void>;
}

export interface EventStore {
  readonly kind: 'postgres' | 'pglite';
  readonly schema: string;
  append(streamId: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** The current version of a stream, 0 when it does not exist. */
  streamVersion(streamId: string): Promise<number>;
  readAll(options?: ReadAllOptions): Promise<ReadAllPage>;
  readAllByTime(options: ReadAllByTimeOptions): Promise<ReadAllPage>;
  /** Catches up from `after`, then follows new events live, in global order, each exactly once. */
  subscribeAll(options?: SubscribeAllOptions): AsyncIterable<RecordedEvent>;
  /** The same, a page at a time (never empty), for consumers that work in batches. */
  subscribeAllPages(options?: SubscribeAllOptions): AsyncIterable<RecordedEvent[]>;
  /** The position of the newest event every reader can see; 0n for an empty log. */
  headPosition(): Promise<bigint>;
  /** The position of the newest event recorded at or before `time` (that every reader can see); 0n when none was. */
  positionAt(time: Date): Promise<bigint>;
  transaction<T>(work: (tx: EventStoreTransaction) => Promise<T>): Promise<T>;
  loadCheckpoint(name: string): Promise<bigint | undefined>;
  saveCheckpoint(name: string, position: bigint): Promise<void>;
  /** Tries once to take the named lease; undefined when another holder has it. */
  tryAcquireLease(name: string): Promise<Lease | undefined>;
  /** Runs the caller's own SQL against the store's database (outside a transaction). */
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<SqlResult<Row>>;
  close(): Promise<void>;
}
