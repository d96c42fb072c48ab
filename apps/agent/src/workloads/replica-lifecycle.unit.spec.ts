import { describe, expect, it } from 'vitest';
import { evolveReplica, initialStatus, type LifecyclePolicy, type ReplicaEvent, type ReplicaStatus } from './replica-lifecycle.js';

const policy: LifecyclePolicy = { failureThreshold: 3, stableAfterMs: 10_000, backoff: { initialMs: 100, maxMs: 400 } };
const T0 = 1_700_000_000_000;

/** The status after `events`, from a replica just asked to start at T0. */
const given = (...events: ReplicaEvent[]): ReplicaStatus => events.reduce((status, event) => evolveReplica(status, event, policy), initialStatus(T0));
const at = (ms: number) => T0 + ms;
const spawned = (ms: number): ReplicaEvent => ({ type: 'spawned', at: at(ms) });
const passed = (ms: number): ReplicaEvent => ({ type: 'check-passed', at: at(ms) });
const failed = (ms: number): ReplicaEvent => ({ type: 'check-failed', at: at(ms), reason: 'GET /healthz answered 503' });
const exited = (ms: number, ranMs = 10): ReplicaEvent => ({ type: 'exited', at: at(ms), how: 'exited with code 1', ranMs });
const stop = (ms: number): ReplicaEvent => ({ type: 'stop-requested', at: at(ms), reason: 'scaled down' });

describe('replica lifecycle', () => {
  describe('when the replica is starting', () => {
    it('becomes healthy at the first passing check', () => {
      expect(given(spawned(0), failed(100), passed(200))).toMatchObject({ state: 'healthy', since: at(200), failedChecks: 0 });
    });

    it('becomes unhealthy after failureThreshold failed checks in a row, saying why', () => {
      expect(given(spawned(0), failed(100), failed(200))).toMatchObject({ state: 'starting', failedChecks: 2 });
      expect(given(spawned(0), failed(100), failed(200), failed(300))).toMatchObject({
        state: 'unhealthy',
        since: at(300),
        message: '3 health checks failed in a row: GET /healthz answered 503',
      });
    });

    it('fails when its program cannot be started at all', () => {
      expect(given({ type: 'spawn-failed', at: at(5), reason: 'nope is not found on PATH' })).toMatchObject({ state: 'failed', message: 'nope is not found on PATH' });
    });
  });

  describe('when the replica is healthy', () => {
    it('stays healthy through fewer failures than the threshold, and a pass clears the count', () => {
      const status = given(spawned(0), passed(100), failed(200), failed(300), passed(400), failed(500), failed(600));
      expect(status).toMatchObject({ state: 'healthy', since: at(100), failedChecks: 2 });
    });

    it('comes back from unhealthy at the next passing check', () => {
      expect(given(spawned(0), passed(100), failed(200), failed(300), failed(400), passed(500))).toMatchObject({ state: 'healthy', since: at(500), failedChecks: 0 });
    });

    it('keeps its since while its state holds', () => {
      const healthy = given(spawned(0), passed(100));
      expect(evolveReplica(healthy, passed(900), policy)).toBe(healthy);
    });
  });

  describe('when the process exits on its own', () => {
    it('backs off with a doubling wait, counting a restart at each new start', () => {
      const first = given(spawned(0), exited(10));
      expect(first).toMatchObject({ state: 'backoff', crashes: 1, retryInMs: 100, restarts: 0, message: 'exited with code 1; starting again in 100 ms' });
      const again = given(spawned(0), exited(10), spawned(110), exited(120), spawned(320), exited(330), spawned(730), exited(740));
      expect(again).toMatchObject({ state: 'backoff', crashes: 4, retryInMs: 400, restarts: 3 });
      expect(given(spawned(0), exited(10), spawned(110))).toMatchObject({ state: 'starting', restarts: 1, since: at(110) });
      expect(given(spawned(0), exited(10), spawned(110)).message).toBeUndefined();
    });

    it('starts the backoff over after a run that lasted', () => {
      const status = given(spawned(0), exited(10), spawned(110), exited(120), spawned(320), passed(400), exited(60_000, 59_680));
      expect(status).toMatchObject({ state: 'backoff', crashes: 1, retryInMs: 100, restarts: 2 });
    });

    it('drops a health check that finishes after the exit', () => {
      const backoff = given(spawned(0), exited(10));
      expect(evolveReplica(backoff, passed(20), policy)).toBe(backoff);
      expect(evolveReplica(backoff, failed(20), policy)).toBe(backoff);
    });
  });

  describe('when it is asked to stop', () => {
    it('is stopping until its process exits, then stopped', () => {
      const stopping = given(spawned(0), passed(100), stop(200));
      expect(stopping).toMatchObject({ state: 'stopping', since: at(200), message: 'stopping: scaled down' });
      expect(evolveReplica(stopping, { type: 'exited', at: at(300), how: 'stopped (scaled down): exited with code 0', ranMs: 300 }, policy)).toMatchObject({
        state: 'stopped',
        since: at(300),
        message: 'stopped (scaled down): exited with code 0',
      });
    });

    it('stops at once between two starts: nothing runs', () => {
      expect(given(spawned(0), exited(10), stop(50))).toMatchObject({ state: 'stopped', since: at(50), message: 'stopped: scaled down' });
      expect(given(spawned(0), exited(10), stop(50)).retryInMs).toBeUndefined();
    });

    it('changes nothing when stopping or ended already', () => {
      for (const status of [given(spawned(0), stop(10)), given(spawned(0), exited(10), stop(50)), given({ type: 'spawn-failed', at: at(1), reason: 'x' })]) {
        expect(evolveReplica(status, stop(500), policy)).toBe(status);
        expect(evolveReplica(status, passed(500), policy)).toBe(status);
        expect(evolveReplica(status, spawned(500), policy)).toBe(status);
      }
    });
  });
});
