import { describe, expect, it } from 'vitest';
import { type Candidate, drawCommittee } from './committee.js';

const candidates = (count: number, weight: (i: number) => number = () => 0.5): Candidate[] =>
  Array.from({ length: count }, (_, i) => ({ nodeId: `node-${String(i).padStart(3, '0')}`, weight: weight(i) }));

describe('drawCommittee', () => {
  it('seats everyone with weight when there are no more candidates than seats', () => {
    const few = [...candidates(4), { nodeId: 'weightless', weight: 0 }];
    expect(drawCommittee(few, 25).map((seat) => seat.nodeId)).toEqual(['node-000', 'node-001', 'node-002', 'node-003']);
  });

  it('seats exactly `size` distinct candidates, in their order, with their weights', () => {
    const pool = candidates(1000, (i) => 0.2 + (i % 8) / 10);
    const committee = drawCommittee(pool, 25);
    expect(committee).toHaveLength(25);
    expect(new Set(committee.map((seat) => seat.nodeId)).size).toBe(25);
    const order = committee.map((seat) => pool.findIndex((candidate) => candidate.nodeId === seat.nodeId));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    for (const seat of committee) expect(seat.weight).toBe(pool.find((candidate) => candidate.nodeId === seat.nodeId)!.weight);
  });

  it('is decided by the random draws alone: the same draws seat the same committee', () => {
    const pool = candidates(100);
    const draws = Array.from({ length: 100 }, (_, i) => ((i * 37) % 101) / 101 + 0.001);
    const replay = () => {
      let next = 0;
      return () => draws[next++]!;
    };
    expect(drawCommittee(pool, 10, replay())).toEqual(drawCommittee(pool, 10, replay()));
    // With equal weights the largest draws sit.
    const largest = draws
      .map((draw, index) => ({ draw, index }))
      .sort((a, b) => b.draw - a.draw)
      .slice(0, 10)
      .map((entry) => pool[entry.index]!.nodeId)
      .sort();
    expect(drawCommittee(pool, 10, replay()).map((seat) => seat.nodeId)).toEqual(largest);
  });

  it('asks a node twice as trusted about twice as often', () => {
    // 50 nodes at 0.8 and 50 at 0.4, 10 seats, 2,000 draws from the operating system's randomness.
    const pool = candidates(100, (i) => (i < 50 ? 0.8 : 0.4));
    let trusted = 0;
    let other = 0;
    for (let draw = 0; draw < 2000; draw += 1) {
      for (const seat of drawCommittee(pool, 10)) {
        if (seat.weight === 0.8) trusted += 1;
        else other += 1;
      }
    }
    // Sampling without replacement flattens the ratio a little below 2 (it is about 1.94).
    expect(trusted / other).toBeGreaterThan(1.7);
    expect(trusted / other).toBeLessThan(2.1);
  });
});
