import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import { AppSpecV1, MAX_REPLICAS } from './app-spec.js';
import type { LoadBalancingStrategy } from './list-routes.command.js';
import type { LogLine } from './workload-protocol.js';
import { APP_ID } from './suspend-app.command.js';
import { LOG_POINT } from '../platform/state-at.command.js';

/** Error codes of the deployment service, beside the shared ones. */
export const DeploymentErrors = {
  /** The scheduler found no node that fits; the message says which constraint ruled them out. */
  NoSuitableNode: 'NO_SUITABLE_NODE',
  /** A workload kind no node can run yet (a container image). */
  RuntimeUnavailable: 'RUNTIME_UNAVAILABLE',
  /** Replicas did not pass their health check in time. */
  Unhealthy: 'UNHEALTHY',
  /** Another rollout of the app is under way. */
  RolloutInProgress: 'ROLLOUT_IN_PROGRESS',
} as const;

export class DeployAppV1 {
  @IsTenant()
  tenant!: string;

  @ValidateNested()
  @Type(() => AppSpecV1)
  spec!: AppSpecV1;
}

abstract class AppTarget {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID, { message: 'appId must look like app_<letters and digits>' })
  appId!: string;
}

export class UpdateAppV1 extends AppTarget {
  @ValidateNested()
  @Type(() => AppSpecV1)
  spec!: AppSpecV1;
}

export class ScaleAppV1 extends AppTarget {
  /** At least one: `stop` runs none. */
  @IsInt({ message: 'replicas must be a whole number' })
  @Min(1, { message: 'replicas must be at least 1 (to run none, stop the app)' })
  @Max(MAX_REPLICAS)
  replicas!: number;
}

export class RollbackAppV1 extends AppTarget {
  /** The moment whose version and scale the app returns to: a log position or an RFC 3339 time. */
  @Matches(LOG_POINT, { message: 'to must be a log position or an RFC 3339 time, e.g. 2026-12-03T10:00:00Z' })
  to!: string;
}

export interface RollbackResult {
  appId: string;
  /** update: a rollout to the version it ran then (at the scale it had); scale: only the scale differed; none: it is as it was. */
  action: 'update' | 'scale' | 'none';
  version: string;
  replicas: number;
  rolloutId?: string;
}

export class StopAppV1 extends AppTarget {
  /** Recorded with the stop, for whoever reads the app's history. */
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class DeleteAppV1 extends AppTarget {
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

/** Reads: an operator may leave `tenant` out to see every tenant's apps. */
export class GetAppV1 {
  @IsOptional()
  @IsTenant()
  tenant?: string;

  @Matches(APP_ID, { message: 'appId must look like app_<letters and digits>' })
  appId!: string;
}

export class ListAppsV1 {
  @IsOptional()
  @IsTenant()
  tenant?: string;

  /** Only the app of this name (names are unique per tenant). */
  @IsOptional()
  @IsString()
  @Length(1, 40)
  name?: string;
}

export class GetAppEventsV1 extends GetAppV1 {
  /** Events after this stream version. */
  @IsOptional()
  @IsInt()
  @Min(0)
  after?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class GetAppLogsV1 extends GetAppV1 {
  @IsOptional()
  @IsString()
  @Length(1, 80)
  replicaId?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(5000)
  tail?: number;
}

export type AppStatus = 'deploying' | 'active' | 'updating' | 'degraded' | 'failed' | 'stopping' | 'stopped' | 'suspended' | 'deleted';

export interface ReplicaView {
  replicaId: string;
  nodeId: string;
  region: string;
  version: string;
  status: 'scheduled' | 'starting' | 'healthy' | 'unhealthy' | 'stopping' | 'stopped' | 'failed';
  address?: string;
}

export interface AppView {
  appId: string;
  tenant: string;
  name: string;
  version: string;
  status: AppStatus;
  desiredReplicas: number;
  healthyReplicas: number;
  replicas: ReplicaView[];
  strategy: LoadBalancingStrategy;
  resources: { cpu: number; memoryMiB: number; storageGiB: number };
  rollout?: { rolloutId: string; kind: 'deploy' | 'update'; step: string; version: string; startedAt: string };
  lastFailure?: { code: string; reason: string; at: string };
  createdAt: string;
  updatedAt: string;
  /** Log version of the app's stream, for `GetAppEvents.after`. */
  streamVersion: number;
}

export interface AppEventEntry {
  version: number;
  type: string;
  at: string;
  position: string;
  data: Record<string, unknown>;
}

export const DeployApp = defineCommand<DeployAppV1, { appId: string; rolloutId: string; streamVersion: number }>({
  service: 'deployment',
  name: 'app.deploy',
  payload: DeployAppV1,
  description:
    'Starts the deploy saga for a new app (reserve credits, schedule, start, health-check, activate; on failure stop, refund). Answers at once with `{ appId, rolloutId }`; follow it with app.events.',
});
export const UpdateApp = defineCommand<UpdateAppV1, { appId: string; rolloutId: string; streamVersion: number }>({
  service: 'deployment',
  name: 'app.update',
  payload: UpdateAppV1,
  description: 'Rolls the app to a new version one replica at a time, each health-gated; rolls back to the last good version when the new one does not become healthy.',
});
export const ScaleApp = defineCommand<ScaleAppV1, AppView>({ service: 'deployment', name: 'app.scale', payload: ScaleAppV1, description: 'Changes the number of replicas.' });
export const StopApp = defineCommand<StopAppV1, AppView>({ service: 'deployment', name: 'app.stop', payload: StopAppV1, description: 'Stops every replica; the app keeps its spec and can be scaled up again.' });
export const DeleteApp = defineCommand<DeleteAppV1, AppView>({ service: 'deployment', name: 'app.delete', payload: DeleteAppV1, description: 'Stops the app and forgets it (its history stays in the log).' });
export const GetApp = defineCommand<GetAppV1, AppView>({ service: 'deployment', name: 'app.get', payload: GetAppV1, description: 'One app with its replicas and rollout.' });
export const ListApps = defineCommand<ListAppsV1, { apps: AppView[] }>({ service: 'deployment', name: 'app.list', payload: ListAppsV1, description: 'The apps of a tenant (or of all, for operators).' });
export const GetAppEvents = defineCommand<GetAppEventsV1, { events: AppEventEntry[]; streamVersion: number }>({
  service: 'deployment',
  name: 'app.events',
  payload: GetAppEventsV1,
  description: 'The app’s events after a stream version, oldest first: how `myc deploy` follows the saga.',
});
export const GetAppLogs = defineCommand<GetAppLogsV1, { replicas: { replicaId: string; nodeId: string; lines: LogLine[]; error?: string }[] }>({
  service: 'deployment',
  name: 'app.logs',
  payload: GetAppLogsV1,
  description: 'The newest log lines of the app’s replicas, asked of their nodes.',
});

export const RollbackApp = defineCommand<RollbackAppV1, RollbackResult>({
  service: 'deployment',
  name: 'app.rollback',
  payload: RollbackAppV1,
  description: 'Returns an app to the version and scale it had at a moment, through an ordinary update or scale: new events, history untouched.',
});
export const appCommands = [DeployApp, UpdateApp, ScaleApp, RollbackApp, StopApp, DeleteApp, GetApp, ListApps, GetAppEvents, GetAppLogs];
