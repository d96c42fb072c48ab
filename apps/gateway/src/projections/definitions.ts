import { parseStreamId } from '@mycelium/contracts';
import type { ProjectionDefinition, RecordedEvent } from '@mycelium/eventstore';

export interface GatewayProjection extends ProjectionDefinition {
  description: string;
}

const serviceOf = (event: RecordedEvent) => parseStreamId(event.streamId)?.service ?? event.streamId.split('/')[0]!;

/** Every aggregate of the grid, one row per stream: what it is, how far it has gone, whose it is. */
export const aggregatesProjection: GatewayProjection = {
  name: 'aggregates',
  version: '1',
  description: 'one row per stream: service, aggregate, version, first and last event, tenant',
  evolve: (event, rowOf) => {
    const row = rowOf(event.streamId);
    const parsed = parseStreamId(event.streamId);
    const tenant = (row?.tenant as string | undefined) ?? (typeof event.metadata.tenant === 'string' ? event.metadata.tenant : undefined);
    return [
      {
        key: event.streamId,
        row: {
          service: serviceOf(event),
          aggregate: parsed?.aggregate ?? '',
          id: parsed?.id ?? event.streamId,
          version: event.streamVersion,
          firstAt: (row?.firstAt as string | undefined) ?? event.recordedAt.toISOString(),
          lastAt: event.recordedAt.toISOString(),
          lastType: event.type,
          lastPosition: event.position.toString(),
          ...(tenant ? { tenant } : {}),
        },
      },
    ];
  },
};

/** How often each event type was recorded, and when first and last. */
export const eventTypesProjection: GatewayProjection = {
  name: 'event-types',
  version: '1',
  description: 'one row per event type: how many, first and last seen',
  evolve: (event, rowOf) => {
    const row = rowOf(event.type);
    return [
      {
        key: event.type,
        row: {
          service: serviceOf(event),
          count: ((row?.count as number | undefined) ?? 0) + 1,
          firstAt: (row?.firstAt as string | undefined) ?? event.recordedAt.toISOString(),
          lastAt: event.recordedAt.toISOString(),
        },
      },
    ];
  },
};

export const GATEWAY_PROJECTIONS: GatewayProjection[] = [aggregatesProjection, eventTypesProjection];
