import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { defineCommand } from '../registry.js';

export const MAX_TIMELINE = 5000;

export class GetTimelineV1 {
  /** An app, node, incident, round, account (tenant) or correlation id: anything events name. */
  @IsString()
  @Length(3, 200)
  @Matches(/^[A-Za-z0-9_.:@-]+$/, { message: 'id must be an id: letters, digits and _ . : @ -' })
  id!: string;

  /** At most this many events, oldest first (default 1,000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TIMELINE)
  limit?: number;
}

export interface TimelineEntry {
  eventId: string;
  position: string;
  streamVersion: number;
  time: string;
  service: string;
  type: string;
  subject: string;
  data: unknown;
  correlationId?: string;
  causationId?: string;
  /** The event that caused this one, when it is in the timeline too. */
  causedBy?: { position: string; type: string; subject: string };
  tenant?: string;
}

export const GetTimeline = defineCommand<GetTimelineV1, { id: string; entries: TimelineEntry[]; truncated: boolean }>({
  service: 'gateway',
  name: 'events.timeline',
  payload: GetTimelineV1,
  description: 'Every event about an id across every service, in log order, each with what caused it: for operators reading what happened.',
});
