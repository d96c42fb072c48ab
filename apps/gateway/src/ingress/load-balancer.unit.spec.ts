import type { RouteReplica } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import {
  HealthBased,
  LATENCY_EXPLORATION,
  LatencyBased,
  LeastConnections,
  parseAddress,
  type Picker,
  ReplicaState,
  RoundRobin,
  SmoothWeightedRoundRobin,
} from './load-balancer.js';

const replica = (replicaId: string, weight = 1): RouteReplica => ({ replicaId, nodeId: `node-${replicaId}`, address: `127.0.0.1:${9000 + replicaId.charCodeAt(0)}`, weight });
const states = (...ids: string[]) => ids.map((id) => new ReplicaState(replica(id)));
/** `count` picks, as replica ids. */
const picks = (picker: Picker, candidates: ReplicaState[], count: number, random = () => 0.5, now = 0) =>
  Array.from({ length: count }, () => picker.pick(candidates, now, random).replica.replicaId);
const tally = (ids: string[]) => ids.reduce<Record<string, number>>((counts, id) => ({ ...counts, [id]: (counts[id] ?? 0) + 1 }), {});

describe('load balancing', () => {
  describe('round-robin', () => {
    it('sends 30 requests over 3 replicas 10 each, in turn', () => {
      const chosen = picks(new RoundRobin(), states('a', 'b', 'c'), 30);
      expect(chosen.slice(0, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
      expect(tally(chosen)).toEqual({ a: 10, b: 10, c: 10 });
    });
  });

  describe('weighted round-robin', () => {
    it('spreads weights 5/1/1 as nginx does: a a b a c a a, again and again', () => {
      const candidates = [new ReplicaState(replica('a', 5)), new ReplicaState(replica('b', 1)), new ReplicaState(replica('c', 1))];
      const chosen = picks(new SmoothWeightedRoundRobin(), candidates, 14);
      expect(chosen.join(' ')).toBe('a a b a c a a a a b a c a a');
    });

    it('counts a weight that is not a positive number as 1', () => {
      const candidates = [new ReplicaState(replica('a', 0)), new ReplicaState(replica('b', Number.NaN))];
      expect(tally(picks(new SmoothWeightedRoundRobin(), candidates, 10))).toEqual({ a: 5, b: 5 });
    });
  });

  describe('least-connections', () => {
    it('picks the idle replica', () => {
      const [a, b, c] = states('a', 'b', 'c');
      a!.inFlight = 2;
      b!.inFlight = 0;
      c!.inFlight = 1;
      expect(picks(new LeastConnections(), [a!, b!, c!], 3)).toEqual(['b', 'b', 'b']);
    });

    it('takes turns among equally busy replicas', () => {
      const [a, b, c] = states('a', 'b', 'c');
      c!.inFlight = 4;
      expect(picks(new LeastConnections(), [a!, b!, c!], 4)).toEqual(['a', 'b', 'a', 'b']);
    });
  });

  describe('latency-based', () => {
    const measured = (latencies: Record<string, number>) =>
      Object.entries(latencies).map(([id, ms]) => {
        const state = new ReplicaState(replica(id));
        state.succeeded(ms, 0);
        return state;
      });

    it('prefers the fast replica', () => {
      expect(picks(new LatencyBased(), measured({ slow: 80, fast: 4, middle: 20 }), 5)).toEqual(['fast', 'fast', 'fast', 'fast', 'fast']);
    });

    it('tries a replica it has not measured yet first', () => {
      const candidates = [...measured({ fast: 4 }), new ReplicaState(replica('new'))];
      expect(picks(new LatencyBased(), candidates, 1)).toEqual(['new']);
    });

    it('now and then sends a request elsewhere, so a slow replica that recovered is noticed', () => {
      const candidates = measured({ slow: 80, fast: 10 });
      const explored = new LatencyBased().pick(candidates, 0, () => LATENCY_EXPLORATION / 2);
      expect(explored.replica.replicaId).toBe('slow');
      // The recovered replica answers fast from now on; its average comes down below the other's.
      for (let i = 0; i < 10; i += 1) explored.succeeded(2, 0);
      expect(picks(new LatencyBased(), candidates, 3)).toEqual(['slow', 'slow', 'slow']);
    });
  });

  describe('health-based', () => {
    it('avoids the replica with recent failures and spreads the rest evenly', () => {
      const [a, b, c] = states('a', 'b', 'c');
      for (let i = 0; i < 4; i += 1) b!.failed(0);
      for (const state of [a!, c!]) state.succeeded(5, 0);
      expect(tally(picks(new HealthBased(), [a!, b!, c!], 10))).toEqual({ a: 5, c: 5 });
    });

    it('forgives old failures: they lose weight with time', () => {
      const [a, b] = states('a', 'b');
      for (let i = 0; i < 4; i += 1) b!.failed(0);
      a!.succeeded(5, 0);
      expect(b!.failureRatio(0)).toBeGreaterThan(0.5);
      expect(b!.failureRatio(10 * 60_000)).toBeLessThan(0.05);
      expect(tally(picks(new HealthBased(), [a!, b!], 4, () => 0.5, 10 * 60_000))).toEqual({ a: 2, b: 2 });
    });
  });

  describe('addresses', () => {
    it('reads host:port and [v6]:port, and nothing else', () => {
      expect(parseAddress('10.0.0.7:8080')).toEqual({ host: '10.0.0.7', port: 8080 });
      expect(parseAddress('node-3.grid.internal:80')).toEqual({ host: 'node-3.grid.internal', port: 80 });
      expect(parseAddress('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
      for (const bad of ['10.0.0.7', '10.0.0.7:0', '10.0.0.7:70000', 'http://10.0.0.7:80', '', 42]) expect(parseAddress(bad)).toBeUndefined();
    });
  });
});
