import { ContractViolation } from './errors.js';
import { parseStreamId } from './naming.js';

/**
 * A grid event on the wire: CloudEvents 1.0, structured JSON mode. Extension attributes carry what
 * the log knows about the event. `position` is a string because it outgrows CloudEvents' 32-bit
 * integers.
 */
export interface CloudEvent<Data = unknown> {
  specversion: '1.0';
  /** UUIDv7 of the event, also its NATS message id (deduplication). */
  id: string;
  /** `mycelium/<service>` */
  source: string;
  /** `mycelium.<service>.<event>.v<N>` */
  type: string;
  /** The stream: `<service>/<aggregate>/<id>` */
  subject: string;
  /** When the event was recorded in the log, RFC 3339. */
  time: string;
  datacontenttype: 'application/json';
  data: Data;
  correlationid?: string;
  causationid?: string;
  streamversion: number;
  position: string;
  tenant?: string;
  traceparent?: string;
  tracestate?: string;
}

/** The parts of a recorded event the envelope is made from (the event store's `RecordedEvent`). */
export interface LoggedEvent {
  id: string;
  streamId: string;
  streamVersion: number;
  position: bigint;
  type: string;
  data: unknown;
  metadata: {
    correlationId?: string;
    causationId?: string;
    tenant?: string;
    traceparent?: string;
    tracestate?: string;
    [key: string]: unknown;
  };
  recordedAt: Date;
}

export function toCloudEvent(event: LoggedEvent): CloudEvent {
  const service = parseStreamId(event.streamId)?.service ?? event.streamId.split('/')[0] ?? 'unknown';
  const { correlationId, causationId, tenant, traceparent, tracestate } = event.metadata;
  return {
    specversion: '1.0',
    id: event.id,
    source: `mycelium/${service}`,
    type: event.type,
    subject: event.streamId,
    time: event.recordedAt.toISOString(),
    datacontenttype: 'application/json',
    data: event.data,
    ...(typeof correlationId === 'string' ? { correlationid: correlationId } : {}),
    ...(typeof causationId === 'string' ? { causationid: causationId } : {}),
    streamversion: event.streamVersion,
    position: event.position.toString(),
    ...(typeof tenant === 'string' ? { tenant } : {}),
    ...(typeof traceparent === 'string' ? { traceparent } : {}),
    ...(typeof tracestate === 'string' ? { tracestate } : {}),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REQUIRED_STRINGS = ['id', 'source', 'type', 'subject', 'time'] as const;
const OPTIONAL_STRINGS = ['correlationid', 'causationid', 'tenant', 'traceparent', 'tracestate'] as const;

/** Checks that `value` is a CloudEvent as the grid writes them; throws a ContractViolation naming the field. */
export function parseCloudEvent(value: unknown): CloudEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ContractViolation('a CloudEvent must be a JSON object');
  }
  const event = value as Record<string, unknown>;
  if (event.specversion !== '1.0') {
    throw new ContractViolation(`specversion must be "1.0", got ${JSON.stringify(event.specversion)}`, 'specversion');
  }
  for (const field of REQUIRED_STRINGS) {
    if (typeof event[field] !== 'string' || (event[field] as string).length === 0) {
      throw new ContractViolation(`${field} must be a non-empty string`, field);
    }
  }
  for (const field of OPTIONAL_STRINGS) {
    if (event[field] !== undefined && typeof event[field] !== 'string') {
      throw new ContractViolation(`${field} must be a string when present`, field);
    }
  }
  if (!UUID.test(event.id as string)) throw new ContractViolation('id must be a UUID', 'id');
  if (Number.isNaN(Date.parse(event.time as string))) {
    throw new ContractViolation('time must be an RFC 3339 timestamp', 'time');
  }
  if (event.datacontenttype !== undefined && event.datacontenttype !== 'application/json') {
    throw new ContractViolation('datacontenttype must be application/json', 'datacontenttype');
  }
  if (!Number.isInteger(event.streamversion) || (event.streamversion as number) < 1) {
    throw new ContractViolation('streamversion must be a positive integer', 'streamversion');
  }
  if (typeof event.position !== 'string' || !/^[0-9]+$/.test(event.position)) {
    throw new ContractViolation('position must be a string of digits', 'position');
  }
  if (!('data' in event)) throw new ContractViolation('data is missing', 'data');
  return { ...event, datacontenttype: 'application/json' } as unknown as CloudEvent;
}
