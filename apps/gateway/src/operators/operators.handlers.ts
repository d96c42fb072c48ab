import { Controller, Get, HttpException, Inject, Param, Query, Req } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  GetTimeline,
  type GetTimelineV1,
  ListProjections,
  type ListProjectionsV1,
  type ProjectionReplay,
  type ProjectionView,
  RebuildProjection,
  type RebuildProjectionV1,
  ReplayProjections,
  type ReplayProjectionsV1,
  type TimelineEntry,
} from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, OnCommand } from '@mycelium/messaging';
import { eventScope } from '../events/event-scope.js';
import { RequiresScope } from '../keys/api-key.guard.js';
import type { ApiKeyHolder } from '../keys/api-keys.js';
import { Projections } from '../projections/projections.js';
import { timelineOf } from './timeline.js';

/** What operators (over NATS, with the grid's credentials) and keys with events:read ask of the log. */
@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/timeline')
export class OperatorsHandlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projectionsKeeper: Projections,
  ) {}

  @OnCommand(ListProjections)
  async projections(@Payload() request: ListProjectionsV1): Promise<{ projections: ProjectionView[] }> {
    return { projections: await this.projectionsKeeper.list(request.name) };
  }

  @OnCommand(RebuildProjection)
  async rebuild(@Payload() request: RebuildProjectionV1): Promise<{ name: string; generation: number }> {
    return this.projectionsKeeper.rebuild(request.name);
  }

  @OnCommand(ReplayProjections)
  async replay(@Payload() request: ReplayProjectionsV1): Promise<{ from: string; to: string; projections: ProjectionReplay[] }> {
    return { from: request.from, to: request.to, projections: await this.projectionsKeeper.replay(request) };
  }

  @OnCommand(GetTimeline)
  async timeline(@Payload() request: GetTimelineV1): Promise<{ id: string; entries: TimelineEntry[]; truncated: boolean }> {
    return { id: request.id, ...(await timelineOf(this.store, request.id, request.limit)) };
  }

  @Get(':id')
  @RequiresScope('events:read')
  @ApiOperation({ summary: 'Every event about an id, across services, in order', description: 'An app, node, incident, account or correlation id. A tenant’s key sees its own events only.' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  async get(@Req() request: { apiKey?: ApiKeyHolder; query: Record<string, unknown> }, @Param('id') id: string, @Query('limit') limit?: string) {
    if (!/^[A-Za-z0-9_.:@-]{3,200}$/.test(id)) throw new HttpException({ error: { code: 'VALIDATION_FAILED', message: 'id must be an id: letters, digits and _ . : @ -', field: 'id' } }, 400);
    const tenant = eventScope(request);
    const max = limit === undefined ? undefined : Number(limit);
    return { id, ...(await timelineOf(this.store, id, Number.isInteger(max) && max! > 0 ? max : undefined, tenant === undefined ? {} : { tenant })) };
  }
}
