/** Waits between restarts of a replica that keeps exiting: doubling from `initialMs`, capped at `maxMs`. */
export interface RestartBackoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoff = { initialMs: 1000, maxMs: 30_000 };

/**
 * The wait before the next start after `crashes` exits in a row (1 for the first). Even the first
 * waits: a program that exits at once must never turn into a tight loop of starts.
 */
export function restartDelayMs(crashes: number, backoff: RestartBackoff = DEFAULT_RESTART_BACKOFF): number {
  const doublings = Math.min(Math.max(crashes, 1) - 1, 30);
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** doublings);
}
