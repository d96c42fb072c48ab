import { describe, expect, it } from 'vitest';
import { type IncidentCommand, incidentDecider } from './incident.decider.js';
import { type IncidentEvent, incidentIdFor, type IncidentState, rolloutIncidentId } from './incident.js';
import { flapping, planIncident } from './plan.js';

const NODE = 'a'.repeat(20);
const OTHER = 'b'.repeat(20);
const ID = incidentIdFor(NODE, 1);
const T0 = '2030-01-01T00:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
const policy = { cap: 2, windowMs: 600_000 };

/** given(events).when(command) → the new events' names and payloads, and the state after. */
function given(...commands: IncidentCommand[]) {
  let state = incidentDecider.initialState();
  for (const command of commands) state = incidentDecider.decide(command, state).reduce(incidentDecider.evolve, state);
  return {
    state,
    when(command: IncidentCommand) {
      const events = incidentDecider.decide(command, state);
      return { events, names: events.map(name), after: events.reduce(incidentDecider.evolve, state) };
    },
  };
}
const name = (event: IncidentEvent) => event.type.replace(/^mycelium\.healing\./, '').replace(/\.v\d+$/, '');

const suspected: IncidentCommand = { type: 'OpenNodeIncident', incidentId: ID, kind: 'node-suspected', nodeId: NODE, evidence: { missedHeartbeats: 3 }, at: T0 };
const roundRequested: IncidentCommand = { type: 'RecordRoundRequested', roundId: 'r-1', deadline: at(10), at: at(1) };
const down: IncidentCommand = { type: 'RecordRoundClosed', roundId: 'r-1', outcome: 'down', tally: { up: 0, down: 3 }, at: at(2) };
const evacuated = (replicas: { appId: string; replicaId: string }[]): IncidentCommand => ({ type: 'RecordEvacuation', replicas, at: at(3) });
const healthy = (appId: string, replicaId: string, nodeId = OTHER): IncidentCommand => ({ type: 'RecordReplicaHealthy', appId, replicaId, nodeId, at: at(4) });
const restarted = (restarts: number, seconds = restarts): IncidentCommand => ({
  type: 'RecordReplicaRestarted',
  incidentId: incidentIdFor('app_1-r1', 1),
  appId: 'app_1',
  replicaId: 'app_1-r1',
  nodeId: NODE,
  restarts,
  tenant: 'acme',
  at: at(seconds),
  policy,
});
const plan = (state: IncidentState, seconds = 5) => planIncident(state, new Date(at(seconds)), { crashWindowMs: 600_000 });

describe('incident ids', () => {
  it('gives the n-th incident about a subject the same id every time, and distinct ids otherwise', () => {
    expect(incidentIdFor(NODE, 1)).toBe(ID);
    expect(ID).toMatch(/^inc_[0-9a-f]{20}$/);
    expect(new Set([incidentIdFor(NODE, 2), incidentIdFor(OTHER, 1), rolloutIncidentId('r'), ID]).size).toBe(4);
  });
});

describe('when a node is suspected', () => {
  it('opens one incident with the evidence, and a repeated suspicion opens nothing', () => {
    const { names, after } = given().when(suspected);
    expect(names).toEqual(['incident-opened']);
    expect(after).toMatchObject({ status: 'open', kind: 'node-suspected', subject: NODE, evidence: { missedHeartbeats: 3 } });
    expect(given(suspected).when(suspected).events).toEqual([]);
  });

  it('plans a consensus round first, and nothing else until its outcome', () => {
    expect(plan(given(suspected).state)).toEqual({ kind: 'open-round', nodeId: NODE });
    const { names, after } = given(suspected).when(roundRequested);
    expect(names).toEqual(['incident-action-taken']);
    expect(after.actions[0]).toMatchObject({ action: 'confirm-down', target: NODE, mode: 'commanded', detail: { roundId: 'r-1' } });
    expect(plan(after)).toEqual({ kind: 'wait' });
    expect(given(suspected, roundRequested).when(roundRequested).events).toEqual([]);
  });

  it('escalates when no outcome comes by the deadline, evicting nothing', () => {
    const step = plan(given(suspected, roundRequested).state, 11);
    expect(step).toMatchObject({ kind: 'escalate', why: expect.stringMatching(/no outcome.*nothing was evicted/) });
  });

  it('records a declaration of down once, without a second round', () => {
    const { names } = given(suspected, roundRequested).when({ type: 'RecordNodeDeclaredDown', at: at(2) });
    expect(names).toEqual(['incident-observed']);
    expect(given(suspected, roundRequested, { type: 'RecordNodeDeclaredDown', at: at(2) }).when({ type: 'RecordNodeDeclaredDown', at: at(3) }).events).toEqual([]);
  });
});

describe('when the round closes', () => {
  it('"up" resolves it as a false alarm with nothing evicted', () => {
    const { names, after } = given(suspected, roundRequested).when({ ...down, outcome: 'up' } as IncidentCommand);
    expect(names).toEqual(['incident-observed', 'incident-resolved']);
    expect(after.outcome).toMatch(/false alarm: peers reach the node/);
    expect(plan(after)).toEqual({ kind: 'wait' });
  });

  it('"inconclusive" asks the peers again, up to three rounds, then escalates, evicting nothing', () => {
    const inconclusive = (n: number) => ({ ...down, roundId: `r-${n}`, outcome: 'inconclusive', at: at(2 * n) }) as IncidentCommand;
    const requested = (n: number): IncidentCommand => ({ type: 'RecordRoundRequested', roundId: `r-${n}`, deadline: at(10 * n), at: at(2 * n - 1) });
    const first = given(suspected, requested(1)).when(inconclusive(1));
    expect(first.names).toEqual(['incident-observed']);
    expect(first.after.status).toBe('open');
    expect(plan(first.after)).toEqual({ kind: 'open-round', nodeId: NODE });
    // A late outcome of a round asked before is not the word on the current one.
    expect(given(suspected, requested(1), inconclusive(1), requested(2)).when(inconclusive(1)).events).toEqual([]);
    const last = given(suspected, requested(1), inconclusive(1), requested(2), inconclusive(2), requested(3)).when(inconclusive(3));
    expect(last.names).toEqual(['incident-observed', 'incident-escalated']);
    expect(last.after.status).toBe('escalated');
    expect(last.after.actions.map((action) => action.action)).toEqual(['confirm-down', 'confirm-down', 'confirm-down']);
  });

  it('"down" plans the evacuation, once; a second outcome changes nothing', () => {
    const { after } = given(suspected, roundRequested).when(down);
    expect(plan(after)).toEqual({ kind: 'evacuate', nodeId: NODE });
    expect(given(suspected, roundRequested, down).when({ ...down, roundId: 'r-2', outcome: 'up' } as IncidentCommand).events).toEqual([]);
    const done = given(suspected, roundRequested, down, evacuated([{ appId: 'app_1', replicaId: 'r1' }])).state;
    expect(plan(done)).toEqual({ kind: 'wait' });
    expect(given(suspected, roundRequested, down, evacuated([{ appId: 'app_1', replicaId: 'r1' }])).when(evacuated([])).events).toEqual([]);
  });
});

describe('when the node is evacuated', () => {
  const lost = [
    { appId: 'app_1', replicaId: 'r1' },
    { appId: 'app_1', replicaId: 'r2' },
    { appId: 'app_2', replicaId: 'r3' },
  ];

  it('resolves once every app has as many replicas healthy elsewhere as it lost', () => {
    const base = given(suspected, roundRequested, down, evacuated(lost), healthy('app_1', 'n1'), healthy('app_2', 'n3'));
    expect(base.state.status).toBe('open');
    const { names, after } = base.when(healthy('app_1', 'n2'));
    expect(names).toEqual(['incident-observed', 'incident-resolved']);
    expect(after.outcome).toBe('evacuated: 3 replicas of 2 apps replaced on healthy nodes');
  });

  it('does not count a replica on the node itself, one of the lost, the same one twice, or another app', () => {
    const base = given(suspected, roundRequested, down, evacuated(lost));
    expect(base.when(healthy('app_1', 'n1', NODE)).events).toEqual([]);
    expect(base.when(healthy('app_1', 'r2')).events).toEqual([]);
    expect(base.when(healthy('app_9', 'n1')).events).toEqual([]);
    expect(given(suspected, roundRequested, down, evacuated(lost), healthy('app_1', 'n1')).when(healthy('app_1', 'n1')).events).toEqual([]);
  });

  it('counts replicas the deployment service reported failed on the node, even when the answer was lost', () => {
    const failed: IncidentCommand = { type: 'RecordReplicaFailed', appId: 'app_1', replicaId: 'r1', nodeId: NODE, reason: 'evacuated', at: at(3) };
    const { after } = given(suspected, roundRequested, down, failed).when(evacuated([]));
    expect(after.status).toBe('open');
    expect(after.lost).toEqual({ app_1: ['r1'] });
    expect(given(suspected, roundRequested, down, failed, evacuated([])).when(healthy('app_1', 'n1')).names).toEqual(['incident-observed', 'incident-resolved']);
  });

  it('resolves at once when nothing ran on the node', () => {
    const { names, after } = given(suspected, roundRequested, down).when(evacuated([]));
    expect(names).toEqual(['incident-action-taken', 'incident-resolved']);
    expect(after.outcome).toMatch(/no replica was running/);
  });
});

describe('when the node recovers', () => {
  it('before the outcome, resolves without action', () => {
    const { names, after } = given(suspected, roundRequested).when({ type: 'RecordNodeRecovered', from: 'suspected', at: at(2) });
    expect(names).toEqual(['incident-observed', 'incident-resolved']);
    expect(after.actions.map((action) => action.action)).toEqual(['confirm-down']);
  });

  it('after "down", lets the evacuation finish', () => {
    const { names, after } = given(suspected, roundRequested, down).when({ type: 'RecordNodeRecovered', from: 'down', at: at(3) });
    expect(names).toEqual(['incident-observed']);
    expect(plan(after)).toEqual({ kind: 'evacuate', nodeId: NODE });
  });
});

describe('when a node flaps', () => {
  const flappy: IncidentCommand = { ...suspected, flapping: { incidents: 4, windowMs: 600_000 } } as IncidentCommand;

  it('counts the incidents about it within the window, this one included', () => {
    expect(flapping([at(-700), at(-300), at(-200)], T0, { limit: 3, windowMs: 600_000 })).toBeUndefined();
    expect(flapping([at(-500), at(-300), at(-200)], T0, { limit: 3, windowMs: 600_000 })).toEqual({ incidents: 4, windowMs: 600_000 });
  });

  it('quarantines it before anything else, once, with the reason', () => {
    const { state } = given(flappy);
    expect(plan(state)).toEqual({ kind: 'quarantine', nodeId: NODE });
    const { after } = given(flappy).when({ type: 'RecordQuarantine', trust: 0.05, at: at(1) });
    expect(after.actions[0]).toMatchObject({ action: 'quarantine', reason: expect.stringMatching(/suspected 4 times within 10 min/), detail: { trust: 0.05 } });
    expect(plan(after)).toEqual({ kind: 'open-round', nodeId: NODE });
    expect(given(flappy, { type: 'RecordQuarantine', trust: 0.05, at: at(1) }).when({ type: 'RecordQuarantine', trust: 0.05, at: at(2) }).events).toEqual([]);
  });

  it('a recovery before the quarantine waits for it, then resolves', () => {
    const { names, after } = given(flappy).when({ type: 'RecordNodeRecovered', from: 'suspected', at: at(1) });
    expect(names).toEqual(['incident-observed']);
    expect(plan(after)).toEqual({ kind: 'quarantine', nodeId: NODE });
    expect(given(flappy, { type: 'RecordNodeRecovered', from: 'suspected', at: at(1) }).when({ type: 'RecordQuarantine', trust: 0.05, at: at(2) }).names).toEqual([
      'incident-action-taken',
      'incident-resolved',
    ]);
  });
});

describe('when a replica keeps crashing', () => {
  it('opens an incident for the tenant and records each restart in place as observed', () => {
    const { names, after } = given().when(restarted(1));
    expect(names).toEqual(['incident-opened', 'incident-action-taken']);
    expect(after).toMatchObject({ kind: 'replica-crash-loop', subject: 'app_1-r1', appId: 'app_1', tenant: 'acme' });
    expect(after.actions[0]).toMatchObject({ action: 'restart-in-place', mode: 'observed' });
    expect(given(restarted(1)).when(restarted(2)).names).toEqual(['incident-action-taken']);
    expect(plan(given(restarted(1), restarted(2)).state)).toEqual({ kind: 'wait' });
  });

  it('past the cap within the window, plans the retirement, which escalates', () => {
    const { state } = given(restarted(1), restarted(2), restarted(3));
    expect(state.retireWanted).toBe(true);
    expect(plan(state)).toEqual({ kind: 'retire', appId: 'app_1', replicaId: 'app_1-r1' });
    const { names, after } = given(restarted(1), restarted(2), restarted(3)).when({ type: 'RecordRetirement', retired: true, at: at(4) });
    expect(names).toEqual(['incident-action-taken', 'incident-escalated']);
    expect(after.outcome).toMatch(/crashed past the cap/);
    expect(given(restarted(1), restarted(2), restarted(3), { type: 'RecordRetirement', retired: true, at: at(4) }).when(restarted(4)).events).toEqual([]);
  });

  it('does not count restarts older than the window', () => {
    const { state } = given(restarted(1, 0), restarted(2, 400), restarted(3, 700));
    expect(state.retireWanted).toBe(false);
  });

  it('resolves when it stopped crashing for the window', () => {
    const { state } = given(restarted(1));
    expect(plan(state, 700)).toMatchObject({ kind: 'resolve', how: expect.stringMatching(/restarting in place fixed it/) });
  });
});

describe('when the ingress keeps giving up on a replica', () => {
  const tripped = (seconds: number): IncidentCommand => ({
    type: 'RecordCircuitOpened',
    incidentId: incidentIdFor('app_1-r2', 1),
    appId: 'app_1',
    replicaId: 'app_1-r2',
    nodeId: NODE,
    address: '127.0.0.1:9000',
    reason: 'connection refused',
    tenant: 'acme',
    at: at(seconds),
    policy,
  });

  it('opens an incident that records the traffic diverted, and resolves it once the trips stop', () => {
    const first = given().when(tripped(1));
    expect(first.names).toEqual(['incident-opened', 'incident-action-taken']);
    expect(first.after).toMatchObject({ kind: 'replica-unreachable', subject: 'app_1-r2', tenant: 'acme', actions: [{ action: 'divert', mode: 'observed' }] });
    expect(plan(first.after, 60).kind).toBe('wait');
    expect(plan(first.after, 700)).toMatchObject({ kind: 'resolve', how: expect.stringMatching(/diverting its traffic/) });
  });

  it('retires the replica once it trips more often than the cap within the window', () => {
    const state = given(tripped(1), tripped(2)).when(tripped(3)).after;
    expect(state.actions.at(-1)?.detail).toMatchObject({ capReached: true });
    expect(plan(state)).toEqual({ kind: 'retire', appId: 'app_1', replicaId: 'app_1-r2' });
  });
});

describe('when a rollout fails', () => {
  const failed = (rolledBackTo?: string): IncidentCommand => ({
    type: 'RecordRolloutFailed',
    incidentId: rolloutIncidentId('ro-1'),
    appId: 'app_1',
    tenant: 'acme',
    rolloutId: 'ro-1',
    rolloutKind: 'update',
    code: 'UNHEALTHY',
    reason: 'no replica passed its health check',
    ...(rolledBackTo ? { rolledBackTo } : {}),
    at: T0,
  });

  it('records the automatic rollback and resolves at once; a repeat changes nothing', () => {
    const { names, after } = given().when(failed('1.0.0'));
    expect(names).toEqual(['incident-opened', 'incident-action-taken', 'incident-resolved']);
    expect(after.actions[0]).toMatchObject({ action: 'rollback', mode: 'observed', detail: { version: '1.0.0' } });
    expect(after.outcome).toBe('rolled back to version 1.0.0');
    expect(given(failed('1.0.0')).when(failed('1.0.0')).events).toEqual([]);
  });

  it('a failed first deploy resolves without a rollback', () => {
    expect(given().when(failed()).names).toEqual(['incident-opened', 'incident-resolved']);
  });
});
