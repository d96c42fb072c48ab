import { HttpException } from '@nestjs/common';
import { tenantOf } from '../http/tenant.js';
import type { ApiKeyHolder } from '../keys/api-keys.js';
import { type EventFilter, FilterRejected, parseFilter, parseResume, type ResumePoint } from './event-filter.js';

type EventsRequest = { apiKey?: ApiKeyHolder; query: Record<string, unknown> };

/**
 * The tenant a key reads the events of: an operator key (admin) every tenant's and the grid's own,
 * unless it asks for one with `?tenant=`; any other key its own tenant's only.
 */
export function eventScope(request: { apiKey?: ApiKeyHolder; query?: Record<string, unknown> }): string | undefined {
  if (request.apiKey?.scopes.includes('admin') && request.query?.tenant === undefined) return undefined;
  return tenantOf(request);
}

/** A subscriber's filter and resume point from its request, or the 400 every error of the API is. */
export function subscriptionOf(request: EventsRequest, lastEventId: unknown): { filter: EventFilter; resume: ResumePoint } {
  try {
    return { filter: parseFilter(request.query, eventScope(request)), resume: parseResume(lastEventId, request.query.since) };
  } catch (error) {
    if (error instanceof FilterRejected) throw new HttpException({ error: { code: 'VALIDATION_FAILED', message: error.message, field: error.field } }, 400);
    throw error;
  }
}
