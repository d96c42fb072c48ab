/**
 * What a command handler answers instead of throwing across the wire: a stable code to branch on,
 * a sentence for people (saying what to do next), and the offending field when there is one.
 */
export interface CommandError {
  code: string;
  message: string;
  field?: string;
  details?: Record<string, unknown>;
}

export type CommandReply<Result = unknown> = { ok: true; result: Result } | { ok: false; error: CommandError };

/** Codes every service may answer with; domain codes (e.g. `INSUFFICIENT_CREDITS`) add to these. */
export const ErrorCodes = {
  /** The payload broke a contract rule; `field` names where. Fix the request; do not retry as is. */
  ValidationFailed: 'VALIDATION_FAILED',
  /** The message was not JSON or not a command at all. */
  MalformedMessage: 'MALFORMED_MESSAGE',
  UnknownCommand: 'UNKNOWN_COMMAND',
  NotFound: 'NOT_FOUND',
  /** Someone changed the same thing at the same time; reload and try again. */
  Conflict: 'CONFLICT',
  /** The command is understood but not allowed in the current state. */
  IllegalState: 'ILLEGAL_STATE',
  /** No instance of the service answered; it is not running or not reachable. */
  ServiceUnavailable: 'SERVICE_UNAVAILABLE',
  Timeout: 'TIMEOUT',
  Internal: 'INTERNAL',
} as const;

/**
 * A refusal a handler means to send back to the caller. Throw it (or return a failed reply) from
 * a command handler; the transport turns it into `{ ok: false, error }`.
 */
export class CommandRejection extends Error {
  readonly code: string;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(error: CommandError) {
    super(error.message);
    this.name = 'CommandRejection';
    this.code = error.code;
    this.field = error.field;
    this.details = error.details;
  }

  toCommandError(): CommandError {
    return {
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** The contract of a message was broken: a payload failed validation, or the envelope is unusable. */
export class ContractViolation extends CommandRejection {
  constructor(message: string, field?: string, details?: Record<string, unknown>) {
    super({ code: ErrorCodes.ValidationFailed, message, field, details });
    this.name = 'ContractViolation';
  }
}
