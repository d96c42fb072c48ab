import { describe, expect, it } from 'vitest';
import { DEFAULT_RESTART_BACKOFF, restartDelayMs } from './backoff.js';

describe('restart backoff', () => {
  it('waits 1 s after the first crash, doubling to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((crashes) => restartDelayMs(crashes))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(DEFAULT_RESTART_BACKOFF).toEqual({ initialMs: 1000, maxMs: 30_000 });
  });

  it('never waits nothing, however it is asked', () => {
    expect(restartDelayMs(0)).toBe(1000);
    expect(restartDelayMs(-3, { initialMs: 50, maxMs: 400 })).toBe(50);
  });

  it('stays at the cap after any number of crashes', () => {
    expect(restartDelayMs(10_000)).toBe(30_000);
    expect(restartDelayMs(4, { initialMs: 50, maxMs: 300 })).toBe(300);
  });
});
