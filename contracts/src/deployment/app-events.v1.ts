import { Type } from 'class-transformer';
import { IsArray, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Length, Matches, Min, ValidateNested } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from '../spores/shared.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { StoredAppSpecV1 } from './app-spec.js';
import { APP_ID } from './suspend-app.command.js';

/**
 * The app aggregate's events (`deployment/app/<appId>`). A rollout (a deploy, or an update to a new
 * version) is the deploy saga: each step below is one of these events, so anyone can watch it and a
 * restarted service resumes it from the log (docs/adr/0014).
 */

export const ROLLOUT_KINDS = ['deploy', 'update'] as const;
export type RolloutKind = (typeof ROLLOUT_KINDS)[number];

abstract class AppFact {
  @Matches(APP_ID)
  appId!: string;

  @IsISO8601()
  at!: string;
}

abstract class RolloutFact extends AppFact {
  @IsUUID()
  rolloutId!: string;
}

export class AppDeployRequestedV1 extends RolloutFact {
  @IsTenant()
  tenant!: string;

  @ValidateNested()
  @Type(() => StoredAppSpecV1)
  spec!: StoredAppSpecV1;
}

export class AppUpdateRequestedV1 extends RolloutFact {
  @ValidateNested()
  @Type(() => StoredAppSpecV1)
  spec!: StoredAppSpecV1;

  @IsString()
  fromVersion!: string;
}

export class AppCreditsReservedV1 extends RolloutFact {
  @IsUUID()
  reservationId!: string;

  @IsCreditAmount()
  total!: string;

  @IsString()
  currency!: string;
}

export class AppDeployQueuedV1 extends RolloutFact {
  /** Rollouts waiting before this one when it was queued. */
  @IsInt()
  @Min(0)
  ahead!: number;
}

export class AppCreditsConvertedV1 extends RolloutFact {
  @IsCreditAmount()
  usd!: string;

  @IsString()
  tft!: string;

  @IsString()
  tftUsdRate!: string;
}

export class PlacementEntryV1 {
  @IsString()
  @Length(1, 80)
  replicaId!: string;

  @Matches(NODE_ID)
  nodeId!: string;

  @IsString()
  region!: string;

  @IsString()
  version!: string;
}

export class AppReplicasScheduledV1 extends AppFact {
  /** The rollout this serves; absent when scaling or replacing replicas of a running app. */
  @IsOptional()
  @IsUUID()
  rolloutId?: string;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PlacementEntryV1)
  placements!: PlacementEntryV1[];
}

export class AppReplicaStartingV1 extends AppFact {
  @IsString()
  replicaId!: string;

  @Matches(NODE_ID)
  nodeId!: string;
}

export class AppReplicaHealthyV1 extends AppFact {
  @IsString()
  replicaId!: string;

  @Matches(NODE_ID)
  nodeId!: string;

  /** host:port the ingress sends traffic to. */
  @IsString()
  address!: string;
}

export class AppReplicaFailedV1 extends AppFact {
  @IsString()
  replicaId!: string;

  @Matches(NODE_ID)
  nodeId!: string;

  @IsString()
  @Length(1, 1000)
  reason!: string;
}

export class AppReplicaRestartedV1 extends AppFact {
  @IsString()
  replicaId!: string;

  @Matches(NODE_ID)
  nodeId!: string;

  /** Restarts in place since the replica started on this node, as the node counts them. */
  @IsInt()
  @Min(1)
  restarts!: number;

  /** What the node said about the last exit. */
  @IsOptional()
  @IsString()
  @Length(0, 1000)
  message?: string;
}

export class AppReplicasStoppedV1 extends AppFact {
  @IsArray()
  @IsString({ each: true })
  replicaIds!: string[];

  @IsString()
  @Length(1, 500)
  reason!: string;
}

export class AppActivatedV1 extends RolloutFact {
  @IsString()
  version!: string;

  /** What billing captured (or, for an update, released after guaranteeing it). */
  @IsCreditAmount()
  captured!: string;
}

export class AppRolloutAbortedV1 extends RolloutFact {
  @IsString()
  code!: string;

  @IsString()
  @Length(1, 2000)
  reason!: string;
}

export class AppCreditsRefundedV1 extends RolloutFact {
  @IsUUID()
  reservationId!: string;

  @IsCreditAmount()
  amount!: string;
}

export class AppRolloutFailedV1 extends RolloutFact {
  @IsIn(ROLLOUT_KINDS)
  kind!: RolloutKind;

  @IsString()
  code!: string;

  @IsString()
  @Length(1, 2000)
  reason!: string;

  /** An update that failed: the version the app runs again. */
  @IsOptional()
  @IsString()
  rolledBackTo?: string;
}

export class AppScaledV1 extends AppFact {
  @IsInt()
  @Min(0)
  from!: number;

  @IsInt()
  @Min(0)
  to!: number;
}

export class AppStopRequestedV1 extends AppFact {
  @IsString()
  @Length(1, 500)
  reason!: string;

  /** Billing suspended it for an exhausted balance. */
  @IsOptional()
  @IsIn(['stop', 'suspend', 'delete'])
  mode?: 'stop' | 'suspend' | 'delete';
}

export class AppStoppedV1 extends AppFact {
  @IsIn(['stopped', 'suspended', 'deleted'])
  status!: 'stopped' | 'suspended' | 'deleted';
}

const event = <P extends object, const N extends string>(name: N, payload: new () => P, description: string) =>
  defineEvent({ service: 'deployment', aggregate: 'app', name, version: 1, payload, description });

export const AppDeployRequested = event('app-deploy-requested', AppDeployRequestedV1, 'A tenant asked to deploy an app: the deploy saga begins.');
export const AppUpdateRequested = event('app-update-requested', AppUpdateRequestedV1, 'A tenant asked to roll a running app to a new version, one replica at a time.');
export const AppCreditsReserved = event('app-credits-reserved', AppCreditsReservedV1, 'Billing reserved the first period’s cost plus commission for the rollout.');
export const AppDeployQueued = event('app-deploy-queued', AppDeployQueuedV1, 'The rollout waits for the scheduler.');
export const AppCreditsConverted = event('app-credits-converted', AppCreditsConvertedV1, 'The node owners’ share was converted from credits to TFT.');
export const AppReplicasScheduled = event('app-replicas-scheduled', AppReplicasScheduledV1, 'Replicas were placed on nodes.');
export const AppReplicaStarting = event('app-replica-starting', AppReplicaStartingV1, 'A node started a replica’s process.');
export const AppReplicaHealthy = event('app-replica-healthy', AppReplicaHealthyV1, 'A replica passes its health check and takes traffic.');
export const AppReplicaFailed = event('app-replica-failed', AppReplicaFailedV1, 'A replica failed to start or stopped being healthy.');
export const AppReplicaRestarted = event('app-replica-restarted', AppReplicaRestartedV1, 'A node restarted a replica in place after it crashed.');
export const AppReplicasStopped = event('app-replicas-stopped', AppReplicasStoppedV1, 'Replicas were stopped and no longer take traffic.');
export const AppActivated = event('app-activated', AppActivatedV1, 'Every replica of the rollout is healthy: the app is active and billing captured.');
export const AppRolloutAborted = event('app-rollout-aborted', AppRolloutAbortedV1, 'A step of the rollout failed: what it started is being stopped and its reservation refunded.');
export const AppCreditsRefunded = event('app-credits-refunded', AppCreditsRefundedV1, 'Billing released the rollout’s reservation back to the tenant.');
export const AppRolloutFailed = event('app-rollout-failed', AppRolloutFailedV1, 'The rollout ended in failure, everything it started stopped and refunded.');
export const AppScaled = event('app-scaled', AppScaledV1, 'The desired number of replicas changed.');
export const AppStopRequested = event('app-stop-requested', AppStopRequestedV1, 'The app is to stop (by its owner, suspension for an exhausted balance, or deletion).');
export const AppStopped = event('app-stopped', AppStoppedV1, 'Every replica of the app has stopped.');

export const appEvents = [
  AppDeployRequested,
  AppUpdateRequested,
  AppCreditsReserved,
  AppDeployQueued,
  AppCreditsConverted,
  AppReplicasScheduled,
  AppReplicaStarting,
  AppReplicaHealthy,
  AppReplicaFailed,
  AppReplicaRestarted,
  AppReplicasStopped,
  AppActivated,
  AppRolloutAborted,
  AppCreditsRefunded,
  AppRolloutFailed,
  AppScaled,
  AppStopRequested,
  AppStopped,
];
