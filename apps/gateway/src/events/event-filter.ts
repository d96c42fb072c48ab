import { toCloudEvent } from '@mycelium/contracts';
import type { RecordedEvent } from '@mycelium/eventstore';

/** An event as the event API hands it on: serialized once, matched by every subscriber. */
export interface PublicEvent {
  /** The event's id (the CloudEvent's). */
  id: string;
  position: bigint;
  type: string;
  subject: string;
  tenant?: string;
  /** The CloudEvent, structured JSON mode. */
  json: string;
}

export function publicEvent(recorded: RecordedEvent): PublicEvent {
  const tenant = recorded.metadata.tenant;
  return {
    id: recorded.id,
    position: recorded.position,
    type: recorded.type,
    subject: recorded.streamId,
    ...(typeof tenant === 'string' ? { tenant } : {}),
    json: JSON.stringify(toCloudEvent(recorded)),
  };
}

/** What a subscriber wants, and what its key lets it see. */
export interface EventFilter {
  /** Only events of this tenant; undefined for an operator key, which sees every event. */
  tenant?: string;
  /** Type prefixes (any), e.g. `mycelium.deployment.`; none: every type. */
  types: string[];
  /** A subject (stream) prefix, e.g. `deployment/app/app_7e1a`. */
  subject?: string;
}

export function matches(filter: EventFilter, event: PublicEvent): boolean {
  // A tenant sees its own events only: an event that names no tenant (a node's, the grid's) is the operators'.
  if (filter.tenant !== undefined && event.tenant !== filter.tenant) return false;
  if (filter.types.length > 0 && !filter.types.some((prefix) => event.type.startsWith(prefix))) return false;
  return filter.subject === undefined || event.subject.startsWith(filter.subject);
}

/** A refusal of a subscriber's request, naming the field, as every error of the API does. */
export class FilterRejected extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'FilterRejected';
  }
}

const TYPE_PREFIX = /^[a-z0-9.-]{1,200}$/;
const SUBJECT_PREFIX = /^[A-Za-z0-9_./:-]{1,300}$/;
const POSITION = /^[0-9]{1,30}$/;

/** `type` (comma-separated or repeated) and `subject` as a subscriber gives them. */
export function parseFilter(input: { type?: unknown; subject?: unknown }, tenant: string | undefined): EventFilter {
  const raw = input.type === undefined ? [] : (Array.isArray(input.type) ? input.type : [input.type]).flatMap((value) => String(value).split(','));
  const types = raw.map((value) => value.trim()).filter((value) => value !== '');
  for (const type of types) {
    if (!TYPE_PREFIX.test(type)) throw new FilterRejected(`type must be an event type or its prefix, e.g. mycelium.deployment.; not "${type.slice(0, 50)}"`, 'type');
  }
  if (types.length > 20) throw new FilterRejected('at most 20 type prefixes', 'type');
  if (input.subject !== undefined && (typeof input.subject !== 'string' || !SUBJECT_PREFIX.test(input.subject))) {
    throw new FilterRejected('subject must be a stream id or its prefix, e.g. deployment/app/app_7e1a', 'subject');
  }
  return { ...(tenant !== undefined ? { tenant } : {}), types, ...(typeof input.subject === 'string' ? { subject: input.subject } : {}) };
}

/** Where a subscriber resumes: a log position (what `Last-Event-ID` carries) or a time. */
export type ResumePoint = { after: bigint } | { since: Date } | undefined;

export function parseResume(lastEventId: unknown, since: unknown): ResumePoint {
  if (typeof lastEventId === 'string' && lastEventId !== '') {
    if (!POSITION.test(lastEventId)) throw new FilterRejected('Last-Event-ID must be the id of an event this API sent (a log position)', 'Last-Event-ID');
    return { after: BigInt(lastEventId) };
  }
  if (since === undefined || since === '') return undefined;
  if (typeof since === 'string' && POSITION.test(since)) return { after: BigInt(since) };
  const time = typeof since === 'string' ? Date.parse(since) : Number.NaN;
  if (Number.isNaN(time)) throw new FilterRejected('since must be a log position or an RFC 3339 time, e.g. 2026-12-03T10:00:00Z', 'since');
  return { since: new Date(time) };
}
