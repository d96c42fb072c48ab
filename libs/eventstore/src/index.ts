export type {
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
export {
  EventStoreClosedError,
  EventStoreError,
  InvalidAppendError,
  StoreLockedError,
  WrongExpectedVersionError,
  isWrongExpectedVersion,
} from './errors.js';
export type { DriverLogger, SqlDriver } from './drivers/driver.js';
export { PGliteDriver, type PGliteDriverOptions } from './drivers/pglite.driver.js';
export { PostgresDriver, type PostgresDriverOptions } from './drivers/postgres.driver.js';
export { SqlEventStore, type SqlEventStoreOptions } from './sql-event-store.js';
export { followAll, type FollowOptions } from './follow.js';
export { openEventStore, type OpenEventStoreOptions } from './open-event-store.js';
export { MAX_EVENTS_PER_TRANSACTION, POSITION_SHIFT } from './migrations.js';
export {
  type BatchOutcome,
  type Decider,
  type DomainEvent,
  type HandleCommandOptions,
  type HandledCommand,
  type HandledCommands,
  handleCommand,
  handleCommands,
} from './decider.js';
export { type LogPoint, parseLogPoint, positionOf, streamsAt } from './history.js';
export {
  activateGeneration,
  canonical,
  foldProjection,
  type ProjectionDefinition,
  type ProjectionGeneration,
  projectionGenerations,
  type ProjectionProgress,
  type ProjectionRow,
  projectionRows,
  recordedPointAt,
  ProjectionRunner,
  type ReplayDifference,
  replayProjection,
  type RowChange,
  type RowsQuery,
  startGeneration,
} from './projections.js';
