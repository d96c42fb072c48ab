import { type IncidentState, quarantineTaken } from './incident.js';

/** The one next thing the reconciler does for an open incident, decided from its events alone. */
export type IncidentStep =
  | { kind: 'quarantine'; nodeId: string }
  | { kind: 'open-round'; nodeId: string }
  | { kind: 'evacuate'; nodeId: string }
  | { kind: 'retire'; appId: string; replicaId: string }
  | { kind: 'resolve'; how: string }
  | { kind: 'escalate'; why: string }
  | { kind: 'wait' };

export interface PlanPolicy {
  /** A crash loop with no restart for this long is over. */
  crashWindowMs: number;
}

/**
 * Level-triggered: whatever the incident's events say is still to do, in order. A reconciler that
 * restarts plans the same step again, and an action already recorded is never planned twice.
 */
export function planIncident(state: IncidentState, now: Date, policy: PlanPolicy): IncidentStep {
  if (state.status !== 'open') return { kind: 'wait' };
  switch (state.kind) {
    case 'node-suspected':
    case 'node-down': {
      const nodeId = state.subject;
      if (state.quarantineWanted && !quarantineTaken(state)) return { kind: 'quarantine', nodeId };
      if (state.roundOutcome === undefined) {
        if (state.recoveredAt !== undefined) return { kind: 'resolve', how: 'the node recovered before the peers’ outcome; nothing was evicted' };
        if (state.round === undefined) return { kind: 'open-round', nodeId };
        if (state.round.deadline !== undefined && now.getTime() > Date.parse(state.round.deadline)) {
          return { kind: 'escalate', why: `no outcome came from the consensus round ${state.round.roundId ?? ''} by ${state.round.deadline}; nothing was evicted`.replace('  ', ' ') };
        }
        return { kind: 'wait' };
      }
      if (state.roundOutcome === 'down' && state.evacuatedAt === undefined) return { kind: 'evacuate', nodeId };
      return { kind: 'wait' };
    }
    case 'replica-crash-loop':
    case 'replica-unreachable': {
      if (state.retireWanted && !state.retired) return { kind: 'retire', appId: state.appId!, replicaId: state.subject };
      const last = state.restartsAt.at(-1);
      if (last !== undefined && now.getTime() - Date.parse(last) > policy.crashWindowMs) {
        const quiet = Math.round(policy.crashWindowMs / 1000);
        return {
          kind: 'resolve',
          how:
            state.kind === 'replica-crash-loop'
              ? `no crash since restart ${state.restartsAt.length} for ${quiet} s: restarting in place fixed it`
              : `the ingress has not given up on it again for ${quiet} s: diverting its traffic while it recovered was enough`,
        };
      }
      return { kind: 'wait' };
    }
    case 'rollout-failed':
      return { kind: 'wait' };
    default: {
      const unknown: never = state.kind;
      throw new Error(`unknown incident kind ${String(unknown)}`);
    }
  }
}

/**
 * How many incidents about the node opened within the window, counting the one about to open:
 * more than the limit and the node is flapping.
 */
export function flapping(openedAt: string[], at: string, policy: { limit: number; windowMs: number }): { incidents: number; windowMs: number } | undefined {
  const since = Date.parse(at) - policy.windowMs;
  const incidents = openedAt.filter((opened) => Date.parse(opened) >= since).length + 1;
  return incidents > policy.limit ? { incidents, windowMs: policy.windowMs } : undefined;
}
