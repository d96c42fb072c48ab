import { MAX_TIMELINE, parseStreamId, type TimelineEntry } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';

const PAGE = 2000;

/**
 * Every event about `id`, oldest first, as an operator reads it: when, which service, what, about
 * what, and the event that caused it when that one is about the id too. It reads the whole log
 * (an index would bound it; operators ask rarely, and the log is theirs).
 */
export async function timelineOf(store: EventStore, id: string, limit = 1000, filter: { tenant?: string } = {}): Promise<{ entries: TimelineEntry[]; truncated: boolean }> {
  const entries: TimelineEntry[] = [];
  const byEventId = new Map<string, TimelineEntry>();
  let after = 0n;
  for (;;) {
    const page = await store.readAll({ after, maxCount: PAGE, mentioning: id });
    for (const event of page.events) {
      const tenant = typeof event.metadata.tenant === 'string' ? event.metadata.tenant : undefined;
      if (filter.tenant !== undefined && tenant !== filter.tenant) continue;
      if (entries.length >= Math.min(limit, MAX_TIMELINE)) return { entries, truncated: true };
      const { correlationId, causationId } = event.metadata;
      const cause = typeof causationId === 'string' ? byEventId.get(causationId) : undefined;
      const entry: TimelineEntry = {
        eventId: event.id,
        position: event.position.toString(),
        streamVersion: event.streamVersion,
        time: event.recordedAt.toISOString(),
        service: parseStreamId(event.streamId)?.service ?? event.streamId.split('/')[0]!,
        type: event.type,
        subject: event.streamId,
        data: event.data,
        ...(typeof correlationId === 'string' ? { correlationId } : {}),
        ...(typeof causationId === 'string' ? { causationId } : {}),
        ...(cause ? { causedBy: { position: cause.position, type: cause.type, subject: cause.subject } } : {}),
        ...(tenant ? { tenant } : {}),
      };
      entries.push(entry);
      byEventId.set(event.id, entry);
    }
    after = page.next;
    if (!page.isFull) return { entries, truncated: false };
  }
}
