import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { type CommandDefinition, defineCommand } from '../registry.js';

/** A log position, or an RFC 3339 time. */
export const LOG_POINT = /^(?:[0-9]{1,30}|\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2}))$/;

export class StateAtV1 {
  /** One aggregate (an app, node, account, incident or round id); none: all of them. */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @Matches(/^[A-Za-z0-9_.:@-]+$/, { message: 'id must be an aggregate id' })
  id?: string;

  /** A log position or an RFC 3339 time; none: now. */
  @IsOptional()
  @Matches(LOG_POINT, { message: 'at must be a log position or an RFC 3339 time, e.g. 2026-12-03T10:00:00Z' })
  at?: string;

  /** At most this many aggregates (default 100). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  limit?: number;
}

export interface AggregateAt {
  id: string;
  stream: string;
  /** Its stream's version then. */
  version: number;
  /** The service's view of it then, as its own queries show it now. */
  state: unknown;
}

export interface StateAt {
  service: string;
  /** The newest event folded in: where the state stands. */
  at: { position: string; time?: string };
  aggregates: AggregateAt[];
  total: number;
}

/** The services whose state can be rebuilt as of any moment. */
export const STATEFUL_SERVICES = ['spores', 'consensus', 'deployment', 'billing', 'healing'] as const;
export type StatefulService = (typeof STATEFUL_SERVICES)[number];

/**
 * `cmd.<service>.state.at`: a service's state as it was at a moment, rebuilt from its own streams
 * in the log with its own code, without touching its live state (docs/adr/0021).
 */
export const stateAtOf = Object.fromEntries(
  STATEFUL_SERVICES.map((service) => [
    service,
    defineCommand<StateAtV1, StateAt>({
      service,
      name: 'state.at',
      payload: StateAtV1,
      description: `The ${service} service's state at a log position or time (or now), rebuilt from the log: every aggregate, or one.`,
    }),
  ]),
) as Record<StatefulService, CommandDefinition<StateAtV1, StateAt>>;
