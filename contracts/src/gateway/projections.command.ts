import { IsOptional, IsString, Matches } from 'class-validator';
import { LOG_POINT } from '../platform/state-at.command.js';
import { defineCommand } from '../registry.js';

const PROJECTION_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export class ListProjectionsV1 {
  @IsOptional()
  @Matches(PROJECTION_NAME, { message: 'name must be a projection name, e.g. aggregates' })
  name?: string;
}

export interface ProjectionGenerationView {
  generation: number;
  status: 'building' | 'active' | 'retired';
  codeVersion: string;
  position: string;
  startedAt: string;
  activatedAt?: string;
}

export interface ProjectionView {
  name: string;
  version: string;
  description: string;
  /** The log's head, for how far each generation has to go. */
  head: string;
  generations: ProjectionGenerationView[];
  /** A rebuild under way: events folded so far. */
  rebuilding?: { generation: number; position: string; events: number };
}

export const ListProjections = defineCommand<ListProjectionsV1, { projections: ProjectionView[] }>({
  service: 'gateway',
  name: 'projections.list',
  payload: ListProjectionsV1,
  description: 'The gateway’s persistent projections, each with its generations (active, building, retired) and how far they have read.',
});

export class RebuildProjectionV1 {
  @Matches(PROJECTION_NAME, { message: 'name must be a projection name, e.g. aggregates' })
  name!: string;
}

export const RebuildProjection = defineCommand<RebuildProjectionV1, { name: string; generation: number }>({
  service: 'gateway',
  name: 'projections.rebuild',
  payload: RebuildProjectionV1,
  description: 'Rebuilds a projection from the start of the log into a new generation; the active one serves until the new one has caught up, then they swap.',
});

export class ReplayProjectionsV1 {
  @Matches(LOG_POINT, { message: 'from must be a log position or an RFC 3339 time' })
  from!: string;

  @Matches(LOG_POINT, { message: 'to must be a log position or an RFC 3339 time' })
  to!: string;

  /** Only this service's streams. */
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,40}$/, { message: 'service must be a service name, e.g. deployment' })
  service?: string;

  @IsOptional()
  @Matches(PROJECTION_NAME, { message: 'name must be a projection name, e.g. aggregates' })
  name?: string;
}

export interface ProjectionReplay {
  name: string;
  generation: number;
  /** The slice replayed: its ends moved back to the nearest points the projection recorded at. */
  slice: { from: string; to: string };
  events: number;
  touched: number;
  /** The first 100 rows whose replayed value differs from the recorded one. */
  differences: { key: string; recorded?: Record<string, unknown>; replayed?: Record<string, unknown> }[];
  differing: number;
}

export const ReplayProjections = defineCommand<ReplayProjectionsV1, { from: string; to: string; projections: ProjectionReplay[] }>({
  service: 'gateway',
  name: 'projections.replay',
  payload: ReplayProjectionsV1,
  description: 'Replays a slice of the log through the projections’ current code, on an isolated copy of the rows recorded at its start, and reports every row that differs from what was recorded at its end.',
});
