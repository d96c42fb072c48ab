import { describe, expect, it } from 'vitest';
import {
  AppActivated,
  AppCreditsConverted,
  AppCreditsRefunded,
  AppCreditsReserved,
  AppDeployQueued,
  AppDeployRequested,
  AppReplicaHealthy,
  AppReplicaRestarted,
  AppReplicasScheduled,
  AppReplicaStarting,
  AppReplicasStopped,
  AppRolloutAborted,
  AppRolloutFailed,
  AppStopped,
  DEFAULT_HEALTH,
  type StoredAppSpecV1,
} from '@mycelium/contracts';
import { type App, type AppEvent, evolve, foldApp, viewOf } from './app.js';
import { decide } from './decide.js';
import { type Observed, plan, type Step } from './saga.js';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const at = (ms = 0) => new Date(T0 + ms).toISOString();
const appId = 'app_0123456789abcdef';
const rolloutId = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const update = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c';
const node = (n: number) => `${n}`.padStart(20, 'a');

const spec = (version = '1.0.0', replicas = 3): StoredAppSpecV1 => ({
  name: 'hello',
  version,
  replicas,
  workload: { command: ['node', 'server.mjs'] },
  resources: { cpu: 0.1, memoryMiB: 64, storageGiB: 0 },
  ports: [{ name: 'http', protocol: 'http' }],
  env: [],
  health: DEFAULT_HEALTH,
  placement: {},
  strategy: 'round-robin',
  stopGraceMs: 1000,
});

const requested: AppEvent = { type: AppDeployRequested.type, data: { appId, rolloutId, tenant: 'acme', spec: spec(), at: at() } };
const reserved: AppEvent = { type: AppCreditsReserved.type, data: { appId, rolloutId, reservationId: rolloutId, total: '1.5', currency: 'TFC', at: at() } };
const queued: AppEvent = { type: AppDeployQueued.type, data: { appId, rolloutId, ahead: 0, at: at() } };
const converted: AppEvent = { type: AppCreditsConverted.type, data: { appId, rolloutId, usd: '1.35', tft: '137.7', tftUsdRate: '0.01', at: at() } };
const scheduled = (ids: string[], version = '1.0.0', rollout = rolloutId, ms = 0): AppEvent => ({
  type: AppReplicasScheduled.type,
  data: { appId, rolloutId: rollout, placements: ids.map((replicaId, i) => ({ replicaId, nodeId: node(i + 1), region: 'local', version })), at: at(ms) },
});
const healthy = (replicaId: string, n: number): AppEvent => ({ type: AppReplicaHealthy.type, data: { appId, replicaId, nodeId: node(n), address: `127.0.0.1:90${n}0`, at: at() } });

function stepOf(app: App, observed: Record<string, Observed> = {}, ms = 0, meterSynced = true): Step {
  return plan(app, { now: T0 + ms, observe: (id) => observed[id], meterSynced }).step;
}

const appended = (step: Step) => (step.kind === 'append' ? step.events.map((event) => event.type) : step.kind);

describe('the deploy saga', () => {
  it('goes requested → reserve → queued → convert → schedule, one step at a time', () => {
    expect(stepOf(foldApp([requested])!).kind).toBe('reserve');
    expect(appended(stepOf(foldApp([requested, reserved])!))).toEqual([AppDeployQueued.type]);
    expect(stepOf(foldApp([requested, reserved, queued])!).kind).toBe('convert');
    const step = stepOf(foldApp([requested, reserved, queued, converted])!);
    expect(step).toMatchObject({ kind: 'schedule', count: 3, rolloutId });
  });

  it('asks nodes to start scheduled replicas they do not report, and records what they report', () => {
    const app = foldApp([requested, reserved, queued, converted, scheduled(['a', 'b', 'c'])])!;
    const result = plan(app, { now: T0, observe: () => undefined, meterSynced: true });
    expect(result.start.map((replica) => replica.replicaId)).toEqual(['a', 'b', 'c']);
    expect(result.step.kind).toBe('idle');
    const observed = { a: { state: 'starting' }, b: { state: 'healthy', address: '127.0.0.1:9020' } } as Record<string, Observed>;
    const step = stepOf(app, observed);
    expect(appended(step)).toEqual([AppReplicaStarting.type, AppReplicaStarting.type, AppReplicaHealthy.type]);
  });

  it('captures once every replica is healthy, then the app is active', () => {
    const app = foldApp([requested, reserved, queued, converted, scheduled(['a', 'b', 'c']), healthy('a', 1), healthy('b', 2), healthy('c', 3)])!;
    const observed = Object.fromEntries(['a', 'b', 'c'].map((id) => [id, { state: 'healthy', address: 'x' }])) as Record<string, Observed>;
    const step = stepOf(app, observed);
    expect(step).toMatchObject({ kind: 'capture', nodes: [node(1), node(2), node(3)] });
    const active = evolve(app, { type: AppActivated.type, data: { appId, rolloutId, version: '1.0.0', captured: '1.5', at: at() } })!;
    expect(viewOf(active)).toMatchObject({ status: 'active', healthyReplicas: 3, desiredReplicas: 3 });
    expect(stepOf(active, observed).kind).toBe('idle');
  });

  it('aborts a rollout whose replica does not become healthy in time, stops what it started, refunds once, then fails', () => {
    let app = foldApp([requested, reserved, queued, converted, scheduled(['a', 'b', 'c']), healthy('a', 1)])!;
    const observed = { a: { state: 'healthy', address: 'x' }, b: { state: 'starting' }, c: { state: 'starting' } } as Record<string, Observed>;
    expect(appended(stepOf(app, observed, DEFAULT_HEALTH.startTimeoutMs - 1))).toEqual([AppReplicaStarting.type, AppReplicaStarting.type]);
    const aborted = stepOf(app, observed, DEFAULT_HEALTH.startTimeoutMs + 1);
    expect(appended(aborted)).toEqual([AppRolloutAborted.type]);
    app = (aborted as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    const stop = stepOf(app, observed, DEFAULT_HEALTH.startTimeoutMs + 2);
    expect(stop).toMatchObject({ kind: 'append', events: [{ type: AppReplicasStopped.type, data: { replicaIds: ['a', 'b', 'c'] } }] });
    app = (stop as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    expect(stepOf(app).kind).toBe('release');
    app = evolve(app, { type: AppCreditsRefunded.type, data: { appId, rolloutId, reservationId: rolloutId, amount: '1.5', at: at() } })!;
    const failed = stepOf(app);
    expect(failed).toMatchObject({ kind: 'append', events: [{ type: AppRolloutFailed.type, data: { kind: 'deploy', code: 'UNHEALTHY' } }] });
    app = (failed as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    expect(viewOf(app).status).toBe('failed');
    expect(stepOf(app).kind).toBe('idle');
  });

  it('a node that gives up on a replica fails the rollout at once', () => {
    const app = foldApp([requested, reserved, queued, converted, scheduled(['a', 'b', 'c'])])!;
    const step = stepOf(app, { a: { state: 'failed', message: 'exited with 1' } });
    expect(step).toMatchObject({ kind: 'append', events: [{ type: AppRolloutAborted.type, data: { code: 'UNHEALTHY' } }] });
    expect(JSON.stringify(step)).toContain('exited with 1');
  });

  it('a rollout refused before anything was reserved fails without a refund', () => {
    let app = foldApp([requested, { type: AppRolloutAborted.type, data: { appId, rolloutId, code: 'INSUFFICIENT_CREDITS', reason: 'short', at: at() } }])!;
    const step = stepOf(app);
    expect(step).toMatchObject({ kind: 'append', events: [{ type: AppRolloutFailed.type, data: { code: 'INSUFFICIENT_CREDITS' } }] });
    app = (step as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    expect(viewOf(app)).toMatchObject({ status: 'failed', lastFailure: { code: 'INSUFFICIENT_CREDITS' } });
  });
});

describe('a rolling update', () => {
  const active = () =>
    foldApp([
      requested,
      reserved,
      queued,
      converted,
      scheduled(['a', 'b', 'c']),
      healthy('a', 1),
      healthy('b', 2),
      healthy('c', 3),
      { type: AppActivated.type, data: { appId, rolloutId, version: '1.0.0', captured: '1.5', at: at() } },
    ])!;
  const allHealthy = new Proxy({}, { get: () => ({ state: 'healthy', address: 'x' }) }) as Record<string, Observed>;
  const updating = () =>
    [
      ...decide({ type: 'Update', rolloutId: update, spec: spec('2.0.0'), now: at() }, active()),
      { type: AppCreditsReserved.type, data: { appId, rolloutId: update, reservationId: update, total: '1.5', currency: 'TFC', at: at() } },
      { type: AppDeployQueued.type, data: { appId, rolloutId: update, ahead: 0, at: at() } },
      { type: AppCreditsConverted.type, data: { appId, rolloutId: update, usd: '1', tft: '1', tftUsdRate: '1', at: at() } },
    ].reduce<App | undefined>((app, event) => evolve(app, event as AppEvent), active())!;

  it('places one new replica, waits for it, then retires one old one, until all are new', () => {
    let app = updating();
    expect(viewOf(app).status).toBe('updating');
    for (let round = 1; round <= 3; round += 1) {
      const schedule = stepOf(app, allHealthy);
      expect(schedule).toMatchObject({ kind: 'schedule', count: 1, rolloutId: update });
      app = evolve(app, scheduled([`n${round}`], '2.0.0', update))!;
      expect(stepOf(app, { [`n${round}`]: { state: 'starting' } }).kind).toBe('append');
      app = evolve(app, { type: AppReplicaHealthy.type, data: { appId, replicaId: `n${round}`, nodeId: node(1), address: 'x', at: at() } })!;
      const retire = stepOf(app, allHealthy);
      expect(retire).toMatchObject({ kind: 'append', events: [{ type: AppReplicasStopped.type }] });
      app = (retire as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    }
    expect(stepOf(app, allHealthy)).toMatchObject({ kind: 'capture' });
  });

  it('rolls back when the new version does not become healthy: the new replicas stop, old ones are restored', () => {
    let app = evolve(updating(), scheduled(['n1'], '2.0.0', update))!;
    const observed = { ...Object.fromEntries(['a', 'b', 'c'].map((id) => [id, { state: 'healthy', address: 'x' }])), n1: { state: 'starting' } } as Record<string, Observed>;
    const abort = stepOf(app, observed, DEFAULT_HEALTH.startTimeoutMs + 1);
    app = (abort as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    const stop = stepOf(app, observed, DEFAULT_HEALTH.startTimeoutMs + 2);
    expect(stop).toMatchObject({ kind: 'append', events: [{ type: AppReplicasStopped.type, data: { replicaIds: ['n1'] } }] });
    app = (stop as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    expect(stepOf(app).kind).toBe('release');
    app = evolve(app, { type: AppCreditsRefunded.type, data: { appId, rolloutId: update, reservationId: update, amount: '1.5', at: at() } })!;
    const failed = stepOf(app);
    expect(failed).toMatchObject({ kind: 'append', events: [{ type: AppRolloutFailed.type, data: { kind: 'update', rolledBackTo: '1.0.0' } }] });
    app = (failed as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    expect(viewOf(app)).toMatchObject({ status: 'active', version: '1.0.0', healthyReplicas: 3 });
  });
});

describe('a running app', () => {
  const active = foldApp([
    requested,
    reserved,
    queued,
    converted,
    scheduled(['a', 'b', 'c']),
    healthy('a', 1),
    healthy('b', 2),
    healthy('c', 3),
    { type: AppActivated.type, data: { appId, rolloutId, version: '1.0.0', captured: '1.5', at: at() } },
  ])!;
  const observed = Object.fromEntries(['a', 'b', 'c'].map((id) => [id, { state: 'healthy', address: 'x' }])) as Record<string, Observed>;

  it('scales up by scheduling, down by stopping, and tells billing the new shape', () => {
    const up = decide({ type: 'Scale', replicas: 5, now: at() }, active).reduce<App | undefined>(evolve, active)!;
    expect(stepOf(up, observed)).toMatchObject({ kind: 'schedule', count: 2 });
    const down = decide({ type: 'Scale', replicas: 1, now: at() }, active).reduce<App | undefined>(evolve, active)!;
    const stop = stepOf(down, observed);
    expect(stop).toMatchObject({ kind: 'append', events: [{ type: AppReplicasStopped.type }] });
    expect((stop as Extract<Step, { kind: 'append' }>).events[0]!.data).toMatchObject({ replicaIds: expect.arrayContaining([expect.any(String), expect.any(String)]) });
    expect(stepOf(active, observed, 0, false).kind).toBe('meter-update');
  });

  it('stops: replicas first, then billing, then the app is stopped', () => {
    let app = decide({ type: 'Stop', mode: 'stop', reason: 'owner', now: at() }, active).reduce<App | undefined>(evolve, active)!;
    const stop = stepOf(app, observed);
    expect(stop).toMatchObject({ kind: 'append', events: [{ type: AppReplicasStopped.type, data: { replicaIds: ['a', 'b', 'c'] } }] });
    app = (stop as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    expect(stepOf(app, observed, 0, false).kind).toBe('meter-stop');
    expect(stepOf(app, observed, 0, true)).toMatchObject({ kind: 'append', events: [{ type: AppStopped.type, data: { status: 'stopped' } }] });
    expect(decide({ type: 'Stop', mode: 'stop', reason: 'again', now: at() }, app)).toEqual([]);
  });

  it('is suspended when billing asks (its replicas stop, the meter stops), once however often it asks', () => {
    let app = decide({ type: 'Stop', mode: 'suspend', reason: 'balance exhausted', now: at() }, active).reduce<App | undefined>(evolve, active)!;
    const stop = stepOf(app, observed);
    app = (stop as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    const stopped = stepOf(app, observed, 0, true);
    expect(stopped).toMatchObject({ kind: 'append', events: [{ type: AppStopped.type, data: { status: 'suspended' } }] });
    app = (stopped as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, app)!;
    expect(viewOf(app).status).toBe('suspended');
    expect(decide({ type: 'Stop', mode: 'suspend', reason: 'again', now: at() }, app)).toEqual([]);
  });

  it('stopping a deploy under way aborts it first, so its reservation is refunded', () => {
    const deploying = foldApp([requested, reserved])!;
    const events = decide({ type: 'Stop', mode: 'delete', reason: 'owner', now: at() }, deploying);
    expect(events.map((event) => event.type)).toEqual([AppRolloutAborted.type, 'mycelium.deployment.app-stop-requested.v1']);
    const app = events.reduce<App | undefined>(evolve, deploying)!;
    expect(stepOf(app).kind).toBe('release');
  });

  it('replaces replicas of an evacuated node, and records restarts a node reports, once each', () => {
    const events = decide({ type: 'Fail', replicaIds: ['a', 'b', 'gone'], reason: 'node down', now: at() }, active);
    expect(events.map((event) => (event.data as { replicaId: string }).replicaId)).toEqual(['a', 'b']);
    const app = events.reduce<App | undefined>(evolve, active)!;
    expect(stepOf(app, observed)).toMatchObject({ kind: 'schedule', count: 2 });
    expect(decide({ type: 'Fail', replicaIds: ['a'], reason: 'again', now: at() }, app)).toEqual([]);

    const crashed = { ...observed, c: { state: 'healthy', address: 'x', restarts: 2, message: 'exited with 1' } } as Record<string, Observed>;
    const restarted = stepOf(active, crashed);
    expect(restarted).toMatchObject({ kind: 'append', events: [{ type: AppReplicaRestarted.type, data: { replicaId: 'c', restarts: 2, message: 'exited with 1' } }] });
    const recorded = (restarted as Extract<Step, { kind: 'append' }>).events.reduce<App | undefined>(evolve, active)!;
    expect(stepOf(recorded, crashed).kind).toBe('idle');
  });

  it('refuses what its state does not allow, naming what to do', () => {
    expect(() => decide({ type: 'Scale', replicas: 2, now: at() }, foldApp([requested])!)).toThrow(/in the middle of a deploy/);
    expect(() => decide({ type: 'Update', rolloutId: update, spec: { ...spec('2'), name: 'other' }, now: at() }, active)).toThrow(/keeps the app's name/);
    expect(() => decide({ type: 'Scale', replicas: 2, now: at() }, undefined)).toThrow(/no app/);
  });
});
