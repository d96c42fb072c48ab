import type { ExpectedVersion } from './types.js';

/** Base of every error the event store raises; `code` is stable and safe to branch on. */
export class EventStoreError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The stream was not at the version the caller expected: someone else appended first. */
export class WrongExpectedVersionError extends EventStoreError {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    /** The stream's version when the append was refused, when it could still be read. */
    readonly actual: number | undefined,
  ) {
    super(
      'WRONG_EXPECTED_VERSION',
      actual === undefined
        ? `stream ${streamId} moved on while appending (expected ${String(expected)}); reload it and decide again`
        : `stream ${streamId} is at version ${actual}, expected ${String(expected)}; reload it and decide again`,
    );
  }
}

export class InvalidAppendError extends EventStoreError {
  constructor(message: string) {
    super('INVALID_APPEND', message);
  }
}

export class EventStoreClosedError extends EventStoreError {
  constructor() {
    super('EVENT_STORE_CLOSED', 'the event store is closed');
  }
}

/** The embedded store's files are open in another process. */
export class StoreLockedError extends EventStoreError {
  constructor(dataDir: string, holderPid: number) {
    super(
      'STORE_LOCKED',
      `the embedded store at ${dataDir} is in use by process ${holderPid}; stop it, or set DATABASE_URL to share a PostgreSQL database between processes`,
    );
  }
}

export function isWrongExpectedVersion(error: unknown): error is WrongExpectedVersionError {
  return error instanceof WrongExpectedVersionError;
}
