import { createHash } from 'node:crypto';
import type {
  IncidentAction,
  IncidentActionTakenV1,
  IncidentEscalatedV1,
  IncidentKind,
  IncidentObservedV1,
  IncidentOpenedV1,
  IncidentResolvedV1,
  IncidentStatus,
  IncidentView,
} from '@mycelium/contracts';
import { IncidentActionTaken, IncidentEscalated, IncidentObserved, IncidentOpened, IncidentResolved } from '@mycelium/contracts';

/** The incident aggregate: events, state and evolve (docs/adr/0018). */

export type IncidentEvent =
  | { type: typeof IncidentOpened.type; data: IncidentOpenedV1 }
  | { type: typeof IncidentObserved.type; data: IncidentObservedV1 }
  | { type: typeof IncidentActionTaken.type; data: IncidentActionTakenV1 }
  | { type: typeof IncidentResolved.type; data: IncidentResolvedV1 }
  | { type: typeof IncidentEscalated.type; data: IncidentEscalatedV1 };

export const INCIDENT_STREAM_PREFIX = 'healing/incident/';
export const incidentStream = (incidentId: string) => `${INCIDENT_STREAM_PREFIX}${incidentId}`;

/**
 * Ids are derived, not drawn: the n-th incident about a subject always has the same id, so a fact
 * delivered twice finds the incident it opened instead of opening another.
 */
export function incidentIdFor(subject: string, episode: number): string {
  return `inc_${createHash('sha256').update(`${subject}#${episode}`).digest('hex').slice(0, 20)}`;
}

/** A rollout fails once: its incident is keyed by the rollout. */
export function rolloutIncidentId(rolloutId: string): string {
  return incidentIdFor(`rollout:${rolloutId}`, 1);
}

export interface ActionRecord {
  action: IncidentAction;
  target: string;
  reason: string;
  mode: 'commanded' | 'observed';
  detail?: Record<string, unknown>;
  at: string;
}

export interface IncidentState {
  status: 'none' | IncidentStatus;
  incidentId: string;
  kind: IncidentKind;
  subject: string;
  tenant?: string;
  appId?: string;
  evidence: Record<string, unknown>;
  openedAt: string;
  closedAt?: string;
  /** How it was resolved or why it escalated. */
  outcome?: string;
  actions: ActionRecord[];
  timeline: { event: string; at: string }[];
  /** Node incidents: the node keeps flapping and is to be quarantined. */
  quarantineWanted: boolean;
  /** The consensus round asked for, and until when its outcome is awaited. */
  round?: { roundId?: string; deadline?: string };
  roundOutcome?: string;
  recoveredAt?: string;
  declaredDownAt?: string;
  evacuatedAt?: string;
  /** Replicas lost on the node (from the evacuation's answer and app-replica-failed), by app. */
  lost: Record<string, string[]>;
  /** Replicas of those apps healthy on other nodes since, by app. */
  replacements: Record<string, string[]>;
  /** Crash loops: when each restart in place happened. */
  restartsAt: string[];
  retireWanted: boolean;
  retired: boolean;
}

export function initialIncidentState(): IncidentState {
  return {
    status: 'none',
    incidentId: '',
    kind: 'node-suspected',
    subject: '',
    evidence: {},
    openedAt: '',
    actions: [],
    timeline: [],
    quarantineWanted: false,
    lost: {},
    replacements: {},
    restartsAt: [],
    retireWanted: false,
    retired: false,
  };
}

const eventName = (type: string) => type.replace(/^mycelium\.healing\./, '').replace(/\.v\d+$/, '');

function add(map: Record<string, string[]>, key: string, value: string): Record<string, string[]> {
  const current = map[key] ?? [];
  return current.includes(value) ? map : { ...map, [key]: [...current, value] };
}

export function evolveIncident(state: IncidentState, event: IncidentEvent): IncidentState {
  const timeline = [...state.timeline, { event: eventName(event.type), at: event.data.at }];
  switch (event.type) {
    case IncidentOpened.type: {
      const { incidentId, kind, subject, tenant, appId, evidence, at } = event.data;
      return {
        ...initialIncidentState(),
        status: 'open',
        incidentId,
        kind,
        subject,
        ...(tenant ? { tenant } : {}),
        ...(appId ? { appId } : {}),
        evidence,
        openedAt: at,
        timeline,
        quarantineWanted: evidence.flapping !== undefined,
      };
    }
    case IncidentObserved.type: {
      const { fact, detail, at } = event.data;
      switch (fact) {
        case 'round-closed':
          // An inconclusive round that is not the last word clears the way for another.
          if (detail.outcome === 'inconclusive' && state.status === 'open') return { ...state, timeline, round: undefined };
          return { ...state, timeline, roundOutcome: String(detail.outcome) };
        case 'node-recovered':
          return { ...state, timeline, recoveredAt: at };
        case 'replica-failed':
          return { ...state, timeline, lost: add(state.lost, String(detail.appId), String(detail.replicaId)) };
        case 'replica-healthy':
          return { ...state, timeline, replacements: add(state.replacements, String(detail.appId), String(detail.replicaId)) };
        case 'node-declared-down':
          return { ...state, timeline, declaredDownAt: at };
        default: {
          const unknown: never = fact;
          throw new Error(`unknown incident fact ${String(unknown)}`);
        }
      }
    }
    case IncidentActionTaken.type: {
      const { incidentId: _id, ...record } = event.data;
      const next: IncidentState = { ...state, timeline, actions: [...state.actions, record] };
      const detail = record.detail ?? {};
      switch (record.action) {
        case 'confirm-down':
          return { ...next, round: { ...(typeof detail.roundId === 'string' ? { roundId: detail.roundId } : {}), ...(typeof detail.deadline === 'string' ? { deadline: detail.deadline } : {}) } };
        case 'evacuate': {
          const replicas = Array.isArray(detail.replicas) ? (detail.replicas as { appId: string; replicaId: string }[]) : [];
          return { ...next, evacuatedAt: record.at, lost: replicas.reduce((lost, replica) => add(lost, replica.appId, replica.replicaId), next.lost) };
        }
        case 'restart-in-place':
        case 'divert':
          return { ...next, restartsAt: [...state.restartsAt, record.at], retireWanted: state.retireWanted || detail.capReached === true };
        case 'retire':
          return { ...next, retired: true };
        case 'quarantine':
        case 'rollback':
          return next;
        default: {
          const unknown: never = record.action;
          throw new Error(`unknown incident action ${String(unknown)}`);
        }
      }
    }
    case IncidentResolved.type:
      return { ...state, timeline, status: 'resolved', closedAt: event.data.at, outcome: event.data.how };
    case IncidentEscalated.type:
      return { ...state, timeline, status: 'escalated', closedAt: event.data.at, outcome: event.data.why };
    default: {
      const unknown: never = event;
      throw new Error(`unknown incident event ${(unknown as { type: string }).type}`);
    }
  }
}

export function quarantineTaken(state: IncidentState): boolean {
  return state.actions.some((action) => action.action === 'quarantine');
}

export function viewOfIncident(state: IncidentState): IncidentView {
  return {
    incidentId: state.incidentId,
    kind: state.kind,
    subject: state.subject,
    ...(state.tenant ? { tenant: state.tenant } : {}),
    ...(state.appId ? { appId: state.appId } : {}),
    status: state.status === 'none' ? 'open' : state.status,
    openedAt: state.openedAt,
    ...(state.closedAt ? { closedAt: state.closedAt } : {}),
    ...(state.outcome ? { outcome: state.outcome } : {}),
    evidence: state.evidence,
    actions: state.actions,
    timeline: state.timeline,
  };
}
