/**
 * One answer shared by every caller within `maxAgeMs` of asking: a burst of callers (fifty rounds
 * opened at once, a hundred replicas to place) costs one request, not one each. An ask that fails
 * is not kept, so the next caller asks again.
 */
export function recently<T>(maxAgeMs: number, ask: () => Promise<T>, clock: () => number = Date.now): () => Promise<T> {
  let kept: { at: number; answer: Promise<T> } | undefined;
  return () => {
    const now = clock();
    if (kept && now - kept.at <= maxAgeMs) return kept.answer;
    const entry = { at: now, answer: ask() };
    kept = entry;
    entry.answer.catch(() => {
      if (kept === entry) kept = undefined;
    });
    return entry.answer;
  };
}
