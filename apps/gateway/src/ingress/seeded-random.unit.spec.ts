import { describe, expect, it } from 'vitest';
import { seededRandom } from './seeded-random.js';

describe('seededRandom', () => {
  it('replays the same numbers for the same seed, in [0, 1), spread over the range', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const values = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(values);
    expect(values.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(values.filter((value) => value < 0.5).length).toBeGreaterThan(400);
    expect(values.filter((value) => value < 0.5).length).toBeLessThan(600);
  });

  it('differs between seeds, and between unseeded sources', () => {
    expect(seededRandom(1)()).not.toBe(seededRandom(2)());
    expect(Array.from({ length: 4 }, seededRandom())).not.toEqual(Array.from({ length: 4 }, seededRandom()));
  });
});
