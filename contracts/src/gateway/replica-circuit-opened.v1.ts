import { IsISO8601, IsString, Length, Matches } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { NODE_ID } from '../spores/shared.js';
import { IsTenant } from '../tenancy.js';

/** The ingress stopped sending traffic to a replica that kept failing (its circuit breaker opened). */
export class ReplicaCircuitOpenedV1 {
  @Matches(APP_ID)
  appId!: string;

  @IsTenant()
  tenant!: string;

  @IsString()
  @Length(1, 80)
  replicaId!: string;

  @Matches(NODE_ID)
  nodeId!: string;

  @IsString()
  @Length(1, 300)
  address!: string;

  /** The last failure, in words (refused, timed out, HTTP 503). */
  @IsString()
  @Length(1, 500)
  reason!: string;

  @IsISO8601()
  at!: string;
}

export const ReplicaCircuitOpened = defineEvent({
  service: 'gateway',
  aggregate: 'ingress',
  name: 'replica-circuit-opened',
  version: 1,
  payload: ReplicaCircuitOpenedV1,
  description: 'The ingress opened the circuit breaker of a replica that failed too often in a row: its traffic goes to the other replicas.',
});
