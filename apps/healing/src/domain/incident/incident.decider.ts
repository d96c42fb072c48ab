import { IncidentActionTaken, IncidentEscalated, type IncidentKind, IncidentObserved, IncidentOpened, IncidentResolved } from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';
import { evolveIncident, type IncidentEvent, type IncidentState, initialIncidentState, quarantineTaken } from './incident.js';

/** What may happen to an incident: facts routed to it, and the results of its actions. */
export type IncidentCommand =
  | {
      type: 'OpenNodeIncident';
      incidentId: string;
      kind: Extract<IncidentKind, 'node-suspected' | 'node-down'>;
      nodeId: string;
      evidence: Record<string, unknown>;
      /** Set when the node opened more incidents than the flapping limit within the window. */
      flapping?: { incidents: number; windowMs: number };
      at: string;
    }
  | { type: 'RecordNodeDeclaredDown'; at: string }
  | { type: 'RecordRoundClosed'; roundId: string; outcome: string; tally: Record<string, number>; at: string }
  | { type: 'RecordNodeRecovered'; from: string; at: string }
  | { type: 'RecordReplicaFailed'; appId: string; replicaId: string; nodeId: string; reason: string; at: string }
  | { type: 'RecordReplicaHealthy'; appId: string; replicaId: string; nodeId: string; at: string }
  | {
      type: 'RecordReplicaRestarted';
      incidentId: string;
      appId: string;
      replicaId: string;
      nodeId: string;
      restarts: number;
      message?: string;
      tenant?: string;
      at: string;
      policy: { cap: number; windowMs: number };
    }
  | {
      type: 'RecordCircuitOpened';
      incidentId: string;
      appId: string;
      replicaId: string;
      nodeId: string;
      address: string;
      reason: string;
      tenant?: string;
      at: string;
      policy: { cap: number; windowMs: number };
    }
  | {
      type: 'RecordRolloutFailed';
      incidentId: string;
      appId: string;
      tenant?: string;
      rolloutId: string;
      rolloutKind: string;
      code: string;
      reason: string;
      rolledBackTo?: string;
      at: string;
    }
  | { type: 'RecordQuarantine'; trust: number; at: string }
  | { type: 'RecordRoundRequested'; roundId: string; deadline: string; at: string }
  | { type: 'RecordEvacuation'; replicas: { appId: string; replicaId: string }[]; at: string }
  | { type: 'RecordRetirement'; retired: boolean; at: string }
  | { type: 'Resolve'; how: string; at: string }
  | { type: 'Escalate'; why: string; at: string };

/** Rounds asked about one suspected node before an incident escalates for want of an outcome. */
export const MAX_ROUNDS = 3;

const opened = (data: IncidentEvent['data'] & object): IncidentEvent => ({ type: IncidentOpened.type, data }) as IncidentEvent;
const observed = (incidentId: string, fact: string, detail: Record<string, unknown>, at: string): IncidentEvent =>
  ({ type: IncidentObserved.type, data: { incidentId, fact, detail, at } }) as IncidentEvent;
const acted = (
  incidentId: string,
  action: string,
  target: string,
  reason: string,
  mode: 'commanded' | 'observed',
  at: string,
  detail?: Record<string, unknown>,
): IncidentEvent => ({ type: IncidentActionTaken.type, data: { incidentId, action, target, reason, mode, at, ...(detail ? { detail } : {}) } }) as IncidentEvent;
const resolved = (incidentId: string, how: string, at: string): IncidentEvent => ({ type: IncidentResolved.type, data: { incidentId, how, at } });
const escalated = (incidentId: string, why: string, at: string): IncidentEvent => ({ type: IncidentEscalated.type, data: { incidentId, why, at } });

const isNode = (state: IncidentState) => state.kind === 'node-suspected' || state.kind === 'node-down';

/**
 * Decides what a fact or an action's result adds to the incident. Facts that no longer matter (the
 * incident is closed, the stage is past) decide nothing: a late or repeated fact changes nothing.
 */
export function decideIncident(command: IncidentCommand, state: IncidentState): IncidentEvent[] {
  const id = state.incidentId;
  switch (command.type) {
    case 'OpenNodeIncident': {
      if (state.status !== 'none') return [];
      const evidence = { ...command.evidence, ...(command.flapping ? { flapping: command.flapping } : {}) };
      return [opened({ incidentId: command.incidentId, kind: command.kind, subject: command.nodeId, evidence, at: command.at })];
    }
    case 'RecordNodeDeclaredDown':
      if (state.status !== 'open' || !isNode(state) || state.kind === 'node-down' || state.declaredDownAt !== undefined) return [];
      return [observed(id, 'node-declared-down', {}, command.at)];
    case 'RecordRoundClosed': {
      if (state.status !== 'open' || !isNode(state) || state.roundOutcome !== undefined) return [];
      // Only the round asked last counts: an earlier, inconclusive one may still close late.
      if (state.round?.roundId !== undefined && command.roundId !== state.round.roundId) return [];
      const events = [observed(id, 'round-closed', { roundId: command.roundId, outcome: command.outcome, tally: command.tally }, command.at)];
      const asked = state.actions.filter((action) => action.action === 'confirm-down').length;
      if (command.outcome === 'up') events.push(resolved(id, 'false alarm: peers reach the node; nothing was evicted', command.at));
      else if (command.outcome === 'inconclusive' && asked < MAX_ROUNDS) {
        // Votes may have come late on busy nodes: the peers are asked again (the round is cleared).
      } else if (command.outcome === 'inconclusive') {
        events.push(escalated(id, `the peers could not agree whether the node is down (${asked} inconclusive rounds); nothing was evicted`, command.at));
      }
      else if (command.outcome !== 'down') events.push(escalated(id, `the round answered "${command.outcome}", which is not a liveness outcome; nothing was evicted`, command.at));
      return events;
    }
    case 'RecordNodeRecovered': {
      if (state.status !== 'open' || !isNode(state) || state.recoveredAt !== undefined) return [];
      const events = [observed(id, 'node-recovered', { from: command.from }, command.at)];
      // Once the peers confirmed it down its replicas are already being replaced: that goes on.
      if (state.roundOutcome === undefined && (!state.quarantineWanted || quarantineTaken(state))) {
        events.push(resolved(id, 'the node recovered before the peers’ outcome; nothing was evicted', command.at));
      }
      return events;
    }
    case 'RecordReplicaFailed': {
      if (state.status !== 'open' || state.roundOutcome !== 'down' || command.nodeId !== state.subject) return [];
      if (state.lost[command.appId]?.includes(command.replicaId)) return [];
      const { type: _type, ...detail } = command;
      return settle(state, [observed(id, 'replica-failed', detail, command.at)], command.at);
    }
    case 'RecordReplicaHealthy': {
      if (state.status !== 'open' || state.roundOutcome !== 'down' || command.nodeId === state.subject) return [];
      const lost = state.lost[command.appId];
      if (!lost || lost.includes(command.replicaId) || state.replacements[command.appId]?.includes(command.replicaId)) return [];
      const { type: _type, ...detail } = command;
      return settle(state, [observed(id, 'replica-healthy', detail, command.at)], command.at);
    }
    case 'RecordReplicaRestarted':
    case 'RecordCircuitOpened': {
      if (state.status === 'resolved' || state.status === 'escalated') return [];
      // A replica that keeps crashing on its node, or that the ingress keeps giving up on: both are
      // left to recover in place, and retired past the cap.
      const restarted = command.type === 'RecordReplicaRestarted';
      const events: IncidentEvent[] = [];
      if (state.status === 'none') {
        events.push(
          opened({
            incidentId: command.incidentId,
            kind: restarted ? 'replica-crash-loop' : 'replica-unreachable',
            subject: command.replicaId,
            ...(command.tenant ? { tenant: command.tenant } : {}),
            appId: command.appId,
            evidence: restarted
              ? { nodeId: command.nodeId, restarts: command.restarts, ...(command.message ? { message: command.message } : {}) }
              : { nodeId: command.nodeId, address: command.address, reason: command.reason },
            at: command.at,
          }),
        );
      }
      const since = Date.parse(command.at) - command.policy.windowMs;
      const recent = [...state.restartsAt, command.at].filter((at) => Date.parse(at) >= since).length;
      const capReached = !state.retireWanted && recent > command.policy.cap;
      const incidentId = state.status === 'none' ? command.incidentId : id;
      events.push(
        restarted
          ? acted(
              incidentId,
              'restart-in-place',
              command.replicaId,
              `node ${command.nodeId} restarted it in place after a crash (restart ${command.restarts}, ${recent} within ${minutes(command.policy.windowMs)}), with backoff${command.message ? `: ${command.message}` : ''}`,
              'observed',
              command.at,
              { nodeId: command.nodeId, restarts: command.restarts, withinWindow: recent, ...(capReached ? { capReached: true } : {}) },
            )
          : acted(
              incidentId,
              'divert',
              command.replicaId,
              `the ingress opened its circuit breaker (${command.reason}) and sends its traffic to the other replicas (${recent} within ${minutes(command.policy.windowMs)})`,
              'observed',
              command.at,
              { nodeId: command.nodeId, address: command.address, withinWindow: recent, ...(capReached ? { capReached: true } : {}) },
            ),
      );
      return events;
    }
    case 'RecordRolloutFailed': {
      if (state.status !== 'none') return [];
      const { incidentId, appId, tenant, rolloutId, rolloutKind, code, reason, rolledBackTo, at } = command;
      const events = [
        opened({ incidentId, kind: 'rollout-failed', subject: appId, ...(tenant ? { tenant } : {}), appId, evidence: { rolloutId, kind: rolloutKind, code, reason, ...(rolledBackTo ? { rolledBackTo } : {}) }, at }),
      ];
      if (rolledBackTo) {
        events.push(acted(incidentId, 'rollback', appId, `the ${rolloutKind} did not succeed (${code}): the deployment service returned the app to version ${rolledBackTo}`, 'observed', at, { rolloutId, version: rolledBackTo }));
        events.push(resolved(incidentId, `rolled back to version ${rolledBackTo}`, at));
      } else {
        events.push(resolved(incidentId, `the ${rolloutKind} failed (${code}); the deployment service stopped what it started and refunded the reservation`, at));
      }
      return events;
    }
    case 'RecordQuarantine': {
      if (state.status !== 'open' || !state.quarantineWanted || quarantineTaken(state)) return [];
      const flapping = state.evidence.flapping as { incidents: number; windowMs: number };
      const events = [
        acted(id, 'quarantine', state.subject, `the node was suspected ${flapping.incidents} times within ${minutes(flapping.windowMs)} (flapping): its trust is set to ${command.trust}, so placement and rounds leave it out`, 'commanded', command.at, { trust: command.trust }),
      ];
      if (state.recoveredAt !== undefined && state.roundOutcome === undefined) events.push(resolved(id, 'the node recovered before the peers’ outcome and is quarantined for flapping; nothing was evicted', command.at));
      return events;
    }
    case 'RecordRoundRequested':
      if (state.status !== 'open' || !isNode(state) || state.round !== undefined || state.roundOutcome !== undefined) return [];
      return [
        acted(id, 'confirm-down', state.subject, 'the spores service suspects the node; its peers probe it in a commit-reveal round before anything is evicted', 'commanded', command.at, {
          roundId: command.roundId,
          deadline: command.deadline,
        }),
      ];
    case 'RecordEvacuation': {
      if (state.status !== 'open' || state.roundOutcome !== 'down' || state.evacuatedAt !== undefined) return [];
      const action = acted(id, 'evacuate', state.subject, 'the peers confirmed the node down: its replicas are marked failed and the deployment saga places replacements on healthy nodes', 'commanded', command.at, {
        replicas: command.replicas,
      });
      return settle(state, [action], command.at);
    }
    case 'RecordRetirement':
      if (state.status !== 'open' || !state.retireWanted || state.retired) return [];
      return [
        acted(id, 'retire', state.subject, `the replica kept crashing: ${state.restartsAt.length} restarts in place did not fix it; the deployment service stops it and places a replacement`, 'commanded', command.at, { retired: command.retired }),
        escalated(id, `replica ${state.subject} of ${state.appId ?? 'its app'} crashed past the cap of restarts in place and was retired; its code or configuration needs a look`, command.at),
      ];
    case 'Resolve':
      return state.status === 'open' ? [resolved(id, command.how, command.at)] : [];
    case 'Escalate':
      return state.status === 'open' ? [escalated(id, command.why, command.at)] : [];
    default: {
      const unknown: never = command;
      throw new Error(`unknown incident command ${(unknown as { type: string }).type}`);
    }
  }
}

/**
 * An evacuation is over when every app that lost replicas on the node has as many replicas
 * healthy on other nodes since: then the incident resolves with the same events.
 */
function settle(before: IncidentState, events: IncidentEvent[], at: string): IncidentEvent[] {
  const after = events.reduce(evolveIncident, before);
  if (after.evacuatedAt === undefined) return events;
  const apps = Object.entries(after.lost);
  if (apps.some(([appId, lost]) => (after.replacements[appId]?.length ?? 0) < lost.length)) return events;
  const replaced = apps.reduce((sum, [, lost]) => sum + lost.length, 0);
  const how = replaced === 0 ? 'the node was evacuated; no replica was running on it' : `evacuated: ${replaced} replica${replaced === 1 ? '' : 's'} of ${apps.length} app${apps.length === 1 ? '' : 's'} replaced on healthy nodes`;
  return [...events, resolved(after.incidentId, how, at)];
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

export const incidentDecider: Decider<IncidentCommand, IncidentEvent, IncidentState> = {
  decide: decideIncident,
  evolve: evolveIncident,
  initialState: initialIncidentState,
};
