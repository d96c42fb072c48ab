import { IsIn, IsISO8601, IsObject, IsOptional, IsString, Length, Matches } from 'class-validator';
import { defineEvent } from '../registry.js';
import { IsTenant } from '../tenancy.js';

/**
 * The incident aggregate's events (`healing/incident/<incidentId>`): what went wrong and where,
 * what the grid observed and did about it, each with its reason, and how it ended (docs/adr/0018).
 */

export const INCIDENT_ID = /^inc_[0-9a-f]{20}$/;

export const INCIDENT_KINDS = ['node-suspected', 'node-down', 'replica-crash-loop', 'replica-unreachable', 'rollout-failed'] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export const INCIDENT_ACTIONS = ['confirm-down', 'evacuate', 'quarantine', 'restart-in-place', 'divert', 'retire', 'rollback'] as const;
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];

/** Facts that arrive while an incident is open and move it on. */
export const INCIDENT_FACTS = ['round-closed', 'node-declared-down', 'node-recovered', 'replica-failed', 'replica-healthy'] as const;
export type IncidentFact = (typeof INCIDENT_FACTS)[number];

abstract class IncidentFactBase {
  @Matches(INCIDENT_ID, { message: 'incidentId must look like inc_<20 hex characters>' })
  incidentId!: string;

  @IsISO8601()
  at!: string;
}

export class IncidentOpenedV1 extends IncidentFactBase {
  @IsIn(INCIDENT_KINDS)
  kind!: IncidentKind;

  /** What is affected: a node id, a replica id, or an app id for a rollout. */
  @IsString()
  @Length(1, 200)
  subject!: string;

  @IsOptional()
  @IsTenant()
  tenant?: string;

  @IsOptional()
  @IsString()
  appId?: string;

  /** The fact that opened it, as it was reported. */
  @IsObject()
  evidence!: Record<string, unknown>;
}

export class IncidentObservedV1 extends IncidentFactBase {
  @IsIn(INCIDENT_FACTS)
  fact!: IncidentFact;

  @IsObject()
  detail!: Record<string, unknown>;
}

export class IncidentActionTakenV1 extends IncidentFactBase {
  @IsIn(INCIDENT_ACTIONS)
  action!: IncidentAction;

  /** What the action was applied to: a node id, a replica id, an app id. */
  @IsString()
  @Length(1, 200)
  target!: string;

  @IsString()
  @Length(1, 1000)
  reason!: string;

  /** `commanded`: healing sent the owning service a command; `observed`: another part of the grid did it and healing records it. */
  @IsIn(['commanded', 'observed'])
  mode!: 'commanded' | 'observed';

  /** What the owning service answered (the round id, the evacuated replicas…). */
  @IsOptional()
  @IsObject()
  detail?: Record<string, unknown>;
}

export class IncidentResolvedV1 extends IncidentFactBase {
  @IsString()
  @Length(1, 1000)
  how!: string;
}

export class IncidentEscalatedV1 extends IncidentFactBase {
  @IsString()
  @Length(1, 1000)
  why!: string;
}

const event = <P extends object, const N extends string>(name: N, payload: new () => P, description: string) =>
  defineEvent({ service: 'healing', aggregate: 'incident', name, version: 1, payload, description });

export const IncidentOpened = event('incident-opened', IncidentOpenedV1, 'Something failed: an incident opens with what, where and the evidence.');
export const IncidentObserved = event('incident-observed', IncidentObservedV1, 'A fact that bears on an open incident arrived (a round outcome, a recovery, a replacement replica).');
export const IncidentActionTaken = event('incident-action-taken', IncidentActionTakenV1, 'The grid acted on the incident (or recorded what another service did), with the reason.');
export const IncidentResolved = event('incident-resolved', IncidentResolvedV1, 'The incident is over: what fixed it.');
export const IncidentEscalated = event('incident-escalated', IncidentEscalatedV1, 'The grid stopped acting on its own: a person must look, and why.');

export const incidentEvents = [IncidentOpened, IncidentObserved, IncidentActionTaken, IncidentResolved, IncidentEscalated];
