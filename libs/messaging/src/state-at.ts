import { CommandRejection, ErrorCodes, type StateAt, type StateAtV1 } from '@mycelium/contracts';
import { type EventStore, parseLogPoint, type RecordedEvent, streamsAt } from '@mycelium/eventstore';

export interface StateView {
  /** The service's streams of this aggregate, e.g. `deployment/app/`. */
  streamPrefix: string;
  /** One stream's events folded into what the service's own queries show; undefined: nothing to show. */
  view(events: RecordedEvent[]): unknown;
}

/**
 * `cmd.<service>.state.at`, answered the same way by every service: its streams read from the log
 * up to the moment asked, each folded with the service's own code. Its live state is not touched.
 */
export async function stateAt(store: EventStore, service: string, request: StateAtV1, ...views: StateView[]): Promise<StateAt> {
  const point = request.at === undefined ? { position: await store.headPosition() } : parseLogPoint(request.at);
  if (!point) throw new CommandRejection({ code: ErrorCodes.ValidationFailed, message: 'at must be a log position or an RFC 3339 time', field: 'at' });
  const aggregates: StateAt['aggregates'] = [];
  let newest: RecordedEvent | undefined;
  for (const { streamPrefix, view } of views) {
    const streams = await streamsAt(store, request.id ? `${streamPrefix}${request.id}` : streamPrefix, point);
    for (const [stream, events] of streams) {
      if (request.id && stream !== `${streamPrefix}${request.id}`) continue;
      const last = events[events.length - 1]!;
      if (!newest || last.position > newest.position) newest = last;
      const state = view(events);
      if (state !== undefined) aggregates.push({ id: stream.slice(streamPrefix.length), stream, version: last.streamVersion, state });
    }
  }
  if (request.id && aggregates.length === 0) {
    throw new CommandRejection({ code: ErrorCodes.NotFound, message: `${service} had no ${request.id} ${request.at ? `at ${request.at}` : 'yet'}`, field: 'id' });
  }
  aggregates.sort((a, b) => a.stream.localeCompare(b.stream));
  return {
    service,
    at: newest ? { position: newest.position.toString(), time: newest.recordedAt.toISOString() } : { position: '0' },
    aggregates: aggregates.slice(0, request.limit ?? 100),
    total: aggregates.length,
  };
}
