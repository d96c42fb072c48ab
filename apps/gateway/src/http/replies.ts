import { HttpException } from '@nestjs/common';
import type { CommandError, CommandReply } from '@mycelium/contracts';

/** The HTTP status of each command error code; anything else is a 502 (the service behind failed). */
export const HTTP_STATUS: Record<string, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_MESSAGE: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ILLEGAL_STATE: 409,
  ROLLOUT_IN_PROGRESS: 409,
  INSUFFICIENT_CREDITS: 402,
  RUNTIME_UNAVAILABLE: 422,
  NO_SUITABLE_NODE: 503,
  PRICE_UNAVAILABLE: 503,
  PRICE_SLIPPAGE: 503,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

/**
 * The result of a command, or its typed error as an HTTP error with the same body everywhere:
 * `{ error: { code, message, field? } }`. `fieldPrefix` is dropped from field names, so a field of
 * the command's `spec` is named as the request body names it.
 */
export function answer<T>(reply: CommandReply<T>, fieldPrefix?: string): T {
  if (reply.ok) return reply.result;
  throw httpError(reply.error, fieldPrefix);
}

export function httpError(error: CommandError, fieldPrefix?: string): HttpException {
  const field = error.field && fieldPrefix && error.field.startsWith(fieldPrefix) ? error.field.slice(fieldPrefix.length) : error.field;
  return new HttpException(
    { error: { code: error.code, message: error.message, ...(field ? { field } : {}), ...(error.details ? { details: error.details } : {}) } },
    HTTP_STATUS[error.code] ?? 502,
  );
}
