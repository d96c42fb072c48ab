import {
  type AppActivatedV1,
  type AppCreditsConvertedV1,
  type AppCreditsRefundedV1,
  type AppCreditsReservedV1,
  AppDeployQueued,
  AppDeployRequested,
  type AppDeployRequestedV1,
  type AppDeployQueuedV1,
  AppActivated,
  AppCreditsConverted,
  AppCreditsRefunded,
  AppCreditsReserved,
  AppReplicaFailed,
  type AppReplicaFailedV1,
  AppReplicaRestarted,
  type AppReplicaRestartedV1,
  AppReplicaHealthy,
  type AppReplicaHealthyV1,
  AppReplicasScheduled,
  type AppReplicasScheduledV1,
  AppReplicaStarting,
  type AppReplicaStartingV1,
  AppReplicasStopped,
  type AppReplicasStoppedV1,
  AppRolloutAborted,
  type AppRolloutAbortedV1,
  AppRolloutFailed,
  type AppRolloutFailedV1,
  AppScaled,
  type AppScaledV1,
  AppStopped,
  type AppStoppedV1,
  AppStopRequested,
  type AppStopRequestedV1,
  type AppStatus,
  AppUpdateRequested,
  type AppUpdateRequestedV1,
  type AppView,
  type ReplicaView,
  type RolloutKind,
  type StoredAppSpecV1,
} from '@mycelium/contracts';

/** Every fact of the app aggregate, discriminated by contract type. */
export type AppEvent =
  | { type: typeof AppDeployRequested.type; data: AppDeployRequestedV1 }
  | { type: typeof AppUpdateRequested.type; data: AppUpdateRequestedV1 }
  | { type: typeof AppCreditsReserved.type; data: AppCreditsReservedV1 }
  | { type: typeof AppDeployQueued.type; data: AppDeployQueuedV1 }
  | { type: typeof AppCreditsConverted.type; data: AppCreditsConvertedV1 }
  | { type: typeof AppReplicasScheduled.type; data: AppReplicasScheduledV1 }
  | { type: typeof AppReplicaStarting.type; data: AppReplicaStartingV1 }
  | { type: typeof AppReplicaHealthy.type; data: AppReplicaHealthyV1 }
  | { type: typeof AppReplicaFailed.type; data: AppReplicaFailedV1 }
  | { type: typeof AppReplicaRestarted.type; data: AppReplicaRestartedV1 }
  | { type: typeof AppReplicasStopped.type; data: AppReplicasStoppedV1 }
  | { type: typeof AppActivated.type; data: AppActivatedV1 }
  | { type: typeof AppRolloutAborted.type; data: AppRolloutAbortedV1 }
  | { type: typeof AppCreditsRefunded.type; data: AppCreditsRefundedV1 }
  | { type: typeof AppRolloutFailed.type; data: AppRolloutFailedV1 }
  | { type: typeof AppScaled.type; data: AppScaledV1 }
  | { type: typeof AppStopRequested.type; data: AppStopRequestedV1 }
  | { type: typeof AppStopped.type; data: AppStoppedV1 };

export type ReplicaStatus = ReplicaView['status'];

export interface Replica {
  replicaId: string;
  nodeId: string;
  region: string;
  version: string;
  status: ReplicaStatus;
  address?: string;
  /** The rollout that placed it, when one did. */
  rolloutId?: string;
  scheduledAt: string;
  /** Restarts in place its node reported, as last recorded. */
  restarts?: number;
}

/** The saga of one deploy or update, as far as the log says it got. */
export interface Rollout {
  rolloutId: string;
  kind: RolloutKind;
  spec: StoredAppSpecV1;
  /** For an update: the spec to return to. */
  previous?: StoredAppSpecV1;
  startedAt: string;
  reservationId?: string;
  reserved?: string;
  queued: boolean;
  converted: boolean;
  /** When its last replica was placed: the start timeout counts from here. */
  lastScheduledAt?: string;
  abort?: { code: string; reason: string; at: string };
  refunded: boolean;
  /** The request's correlation id: every step of the saga carries it. */
  correlationId?: string;
}

export interface App {
  appId: string;
  tenant: string;
  /** The spec of the version the app runs (for a first deploy: the one being deployed). */
  spec: StoredAppSpecV1;
  status: Exclude<AppStatus, 'degraded'>;
  desiredReplicas: number;
  replicas: Map<string, Replica>;
  rollout?: Rollout;
  lastFailure?: { code: string; reason: string; at: string };
  stopMode?: 'stop' | 'suspend' | 'delete';
  createdAt: string;
  updatedAt: string;
  /** Events folded in: the stream's version. */
  version: number;
}

/** Replicas that take part in the app: placed and not yet stopped or failed. */
export const isLive = (replica: Replica) => replica.status !== 'stopped' && replica.status !== 'failed';

export function evolve(app: App | undefined, event: AppEvent): App | undefined {
  if (event.type === AppDeployRequested.type) {
    const { data } = event;
    return {
      appId: data.appId,
      tenant: data.tenant,
      spec: data.spec,
      status: 'deploying',
      desiredReplicas: data.spec.replicas,
      replicas: new Map(),
      rollout: { rolloutId: data.rolloutId, kind: 'deploy', spec: data.spec, startedAt: data.at, queued: false, converted: false, refunded: false },
      createdAt: data.at,
      updatedAt: data.at,
      version: 1,
    };
  }
  if (!app) return app;
  const next: App = { ...app, replicas: new Map(app.replicas), version: app.version + 1, updatedAt: event.data.at };
  const rollout = next.rollout ? { ...next.rollout } : undefined;
  next.rollout = rollout;
  switch (event.type) {
    case AppUpdateRequested.type:
      next.status = 'updating';
      next.rollout = {
        rolloutId: event.data.rolloutId,
        kind: 'update',
        spec: event.data.spec,
        previous: app.spec,
        startedAt: event.data.at,
        queued: false,
        converted: false,
        refunded: false,
      };
      break;
    case AppCreditsReserved.type:
      if (rollout) Object.assign(rollout, { reservationId: event.data.reservationId, reserved: event.data.total });
      break;
    case AppDeployQueued.type:
      if (rollout) rollout.queued = true;
      break;
    case AppCreditsConverted.type:
      if (rollout) rollout.converted = true;
      break;
    case AppReplicasScheduled.type:
      for (const placement of event.data.placements) {
        next.replicas.set(placement.replicaId, {
          ...placement,
          status: 'scheduled',
          scheduledAt: event.data.at,
          ...(event.data.rolloutId ? { rolloutId: event.data.rolloutId } : {}),
        });
      }
      if (rollout && event.data.rolloutId === rollout.rolloutId) rollout.lastScheduledAt = event.data.at;
      break;
    case AppReplicaStarting.type:
      updateReplica(next, event.data.replicaId, { status: 'starting' });
      break;
    case AppReplicaHealthy.type:
      updateReplica(next, event.data.replicaId, { status: 'healthy', address: event.data.address });
      break;
    case AppReplicaFailed.type:
      updateReplica(next, event.data.replicaId, { status: 'failed' });
      break;
    case AppReplicaRestarted.type:
      updateReplica(next, event.data.replicaId, { restarts: event.data.restarts });
      break;
    case AppReplicasStopped.type:
      for (const replicaId of event.data.replicaIds) updateReplica(next, replicaId, { status: 'stopped' });
      break;
    case AppActivated.type:
      if (rollout) next.spec = rollout.spec;
      next.status = 'active';
      next.desiredReplicas = next.spec.replicas;
      next.rollout = undefined;
      break;
    case AppRolloutAborted.type:
      if (rollout) rollout.abort = { code: event.data.code, reason: event.data.reason, at: event.data.at };
      break;
    case AppCreditsRefunded.type:
      if (rollout) rollout.refunded = true;
      break;
    case AppRolloutFailed.type:
      next.lastFailure = { code: event.data.code, reason: event.data.reason, at: event.data.at };
      next.rollout = undefined;
      if (event.data.kind === 'deploy' && next.status === 'deploying') {
        next.status = 'failed';
        next.desiredReplicas = 0;
      } else if (next.status === 'updating') {
        next.status = 'active';
      }
      break;
    case AppScaled.type:
      next.desiredReplicas = event.data.to;
      next.spec = { ...next.spec, replicas: event.data.to };
      break;
    case AppStopRequested.type:
      next.status = 'stopping';
      next.stopMode = event.data.mode ?? 'stop';
      break;
    case AppStopped.type:
      next.status = event.data.status;
      next.desiredReplicas = 0;
      break;
  }
  return next;
}

function updateReplica(app: App, replicaId: string, change: Partial<Replica>): void {
  const replica = app.replicas.get(replicaId);
  if (replica) app.replicas.set(replicaId, { ...replica, ...change });
}

export function foldApp(events: AppEvent[]): App | undefined {
  return events.reduce<App | undefined>(evolve, undefined);
}

/** What the rollout is doing now, in the saga's words. */
export function rolloutStep(rollout: Rollout, app: App): string {
  if (rollout.abort) return rollout.refunded ? 'failed' : 'rolling back';
  if (!rollout.reservationId) return 'requested';
  if (!rollout.queued) return 'credits reserved';
  if (!rollout.converted) return 'converting';
  const mine = [...app.replicas.values()].filter((replica) => replica.rolloutId === rollout.rolloutId && isLive(replica));
  if (mine.length === 0) return 'queued';
  if (mine.some((replica) => replica.status === 'scheduled')) return 'scheduled';
  if (mine.some((replica) => replica.status !== 'healthy')) return 'starting';
  return 'healthy';
}

export function viewOf(app: App): AppView {
  const replicas = [...app.replicas.values()]
    .filter((replica) => isLive(replica))
    .map((replica): ReplicaView => ({
      replicaId: replica.replicaId,
      nodeId: replica.nodeId,
      region: replica.region,
      version: replica.version,
      status: replica.status,
      ...(replica.address ? { address: replica.address } : {}),
    }));
  const healthy = replicas.filter((replica) => replica.status === 'healthy' && replica.version === app.spec.version).length;
  const status: AppStatus = app.status === 'active' && healthy < app.desiredReplicas ? 'degraded' : app.status;
  return {
    appId: app.appId,
    tenant: app.tenant,
    name: app.spec.name,
    version: app.spec.version,
    status,
    desiredReplicas: app.desiredReplicas,
    healthyReplicas: replicas.filter((replica) => replica.status === 'healthy').length,
    replicas,
    strategy: app.spec.strategy,
    resources: app.spec.resources,
    ...(app.rollout
      ? {
          rollout: {
            rolloutId: app.rollout.rolloutId,
            kind: app.rollout.kind,
            step: rolloutStep(app.rollout, app),
            version: app.rollout.spec.version,
            startedAt: app.rollout.startedAt,
          },
        }
      : {}),
    ...(app.lastFailure ? { lastFailure: app.lastFailure } : {}),
    createdAt: app.createdAt,
    updatedAt: app.updatedAt,
    streamVersion: app.version,
  };
}
