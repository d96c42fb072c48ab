import type { EventStore, RecordedEvent } from './types.js';

/** A moment of the log: everything up to a position, or everything recorded up to a time. */
export type LogPoint = { position: bigint } | { time: Date };

const PAGE = 5000;

/** `123` is a log position, anything else an RFC 3339 time; undefined when it is neither. */
export function parseLogPoint(text: string): LogPoint | undefined {
  if (/^[0-9]{1,30}$/.test(text)) return { position: BigInt(text) };
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : { time: new Date(time) };
}

/** The position a log point stands for: itself, or the newest event recorded by its time. */
export async function positionOf(store: EventStore, point: LogPoint): Promise<bigint> {
  return 'position' in point ? point.position : store.positionAt(point.time);
}

/**
 * The events of the streams under `streamPrefix` as they were at `point`, by stream, in order: what
 * a service folds to show its state as it was then. It reads the log, never a live projection.
 */
export async function streamsAt(store: EventStore, streamPrefix: string, point: LogPoint): Promise<Map<string, RecordedEvent[]>> {
  const streams = new Map<string, RecordedEvent[]>();
  const add = (event: RecordedEvent) => {
    const stream = streams.get(event.streamId) ?? [];
    stream.push(event);
    streams.set(event.streamId, stream);
  };
  let after = 0n;
  for (;;) {
    const page =
      'position' in point
        ? await store.readAll({ after, maxCount: PAGE, streamPrefixes: [streamPrefix] })
        : await store.readAllByTime({ after, maxCount: PAGE, streamPrefixes: [streamPrefix], from: new Date(0), to: new Date(point.time.getTime() + 1) });
    for (const event of page.events) {
      if ('position' in point && event.position > point.position) return streams;
      add(event);
    }
    after = page.next;
    if (!page.isFull) return streams;
  }
}
