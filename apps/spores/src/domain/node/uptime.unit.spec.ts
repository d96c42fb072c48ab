import { describe, expect, it } from 'vitest';
import { DAY_MS, trimAvailability, uptimePercent } from './uptime.js';

const t = (hours: number) => new Date(Date.UTC(2026, 10, 1) + hours * 3_600_000).toISOString();

describe('uptime', () => {
  it('is 100 for a node up since it joined, however recently', () => {
    expect(uptimePercent([{ at: t(0), up: true }], new Date(t(1)), DAY_MS)).toBe(100);
  });

  it('counts the down time within the window', () => {
    const changes = [
      { at: t(0), up: true },
      { at: t(10), up: false },
      { at: t(16), up: true },
    ];
    expect(uptimePercent(changes, new Date(t(24)), DAY_MS)).toBe(75);
    // 30 days, but the node is only a day old: the window starts at its join
    expect(uptimePercent(changes, new Date(t(24)), 30 * DAY_MS)).toBe(75);
  });

  it('only looks at the window: an old outage stops counting', () => {
    const changes = [
      { at: t(0), up: true },
      { at: t(1), up: false },
      { at: t(2), up: true },
    ];
    expect(uptimePercent(changes, new Date(t(48)), DAY_MS)).toBe(100);
    expect(uptimePercent(changes, new Date(t(48)), 30 * DAY_MS)).toBeCloseTo(97.92, 2);
  });

  it('is 0 for a node down since the window began', () => {
    expect(uptimePercent([{ at: t(0), up: true }, { at: t(1), up: false }], new Date(t(30)), DAY_MS)).toBe(0);
  });

  it('keeps the last change before 30 days, which says how the window starts', () => {
    const changes = [
      { at: t(0), up: true },
      { at: t(5), up: false },
      { at: t(24 * 40), up: true },
    ];
    expect(trimAvailability(changes, t(24 * 40))).toEqual(changes.slice(1));
  });
});
