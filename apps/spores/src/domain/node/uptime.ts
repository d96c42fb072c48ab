/** A change of a node's availability: up from a join or recovery, down when declared down or gone. */
export interface AvailabilityChange {
  at: string;
  up: boolean;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The percentage of the window ending at `now` the node was up. The window starts no earlier than
 * the node's first change (its join): a node that joined an hour ago and never failed is at 100.
 */
export function uptimePercent(changes: readonly AvailabilityChange[], now: Date, windowMs: number): number {
  if (changes.length === 0) return 0;
  const end = now.getTime();
  const start = Math.max(end - windowMs, Date.parse(changes[0]!.at));
  if (end <= start) return changes.at(-1)!.up ? 100 : 0;
  let upMs = 0;
  for (let i = 0; i < changes.length; i += 1) {
    const from = Math.max(Date.parse(changes[i]!.at), start);
    const to = Math.min(i + 1 < changes.length ? Date.parse(changes[i + 1]!.at) : end, end);
    if (changes[i]!.up && to > from) upMs += to - from;
  }
  return Math.round((upMs / (end - start)) * 10_000) / 100;
}

/**
 * Drops changes that no longer matter for the longest window (30 days), keeping the last one
 * before it, which says whether the window starts up or down.
 */
export function trimAvailability(changes: readonly AvailabilityChange[], newest: string, keepMs = 30 * DAY_MS): AvailabilityChange[] {
  const cutoff = Date.parse(newest) - keepMs;
  const firstInside = changes.findIndex((change) => Date.parse(change.at) >= cutoff);
  if (firstInside <= 0) return [...changes];
  return changes.slice(firstInside - 1);
}
