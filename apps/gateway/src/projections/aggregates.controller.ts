import { Controller, Get, HttpException, Inject, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { type EventStore, projectionGenerations, projectionRows } from '@mycelium/eventstore';
import { EVENT_STORE } from '@mycelium/messaging';
import { eventScope } from '../events/event-scope.js';
import { RequiresScope } from '../keys/api-key.guard.js';
import type { ApiKeyHolder } from '../keys/api-keys.js';
import { aggregatesProjection } from './definitions.js';

/** The `aggregates` projection as a directory of everything the grid has recorded. */
@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/aggregates')
export class AggregatesController {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @Get()
  @RequiresScope('events:read')
  @ApiOperation({ summary: 'Every aggregate (stream) recorded, from the aggregates projection', description: 'Each with its service, version, first and last event. A tenant’s key sees its own.' })
  @ApiQuery({ name: 'prefix', required: false, description: 'a stream id prefix, e.g. deployment/app/' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  async list(@Req() request: { apiKey?: ApiKeyHolder; query: Record<string, unknown> }, @Query('prefix') prefix?: string, @Query('limit') limit?: string) {
    const tenant = eventScope(request);
    const max = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(max) || max < 1 || max > 10_000) throw new HttpException({ error: { code: 'VALIDATION_FAILED', message: 'limit must be a whole number from 1 to 10000', field: 'limit' } }, 400);
    const active = (await projectionGenerations(this.store, aggregatesProjection.name)).find((generation) => generation.status === 'active');
    if (!active) throw new HttpException({ error: { code: 'SERVICE_UNAVAILABLE', message: 'the aggregates projection is still being built: retry shortly' } }, 503);
    const rows = await projectionRows(this.store, aggregatesProjection.name, active.generation, { ...(prefix ? { keyPrefix: prefix } : {}), ...(tenant === undefined ? { limit: max } : {}) });
    const aggregates = [...rows].filter(([, row]) => tenant === undefined || row.tenant === tenant).slice(0, max).map(([stream, row]) => ({ stream, ...row }));
    return { position: active.position.toString(), aggregates };
  }
}
