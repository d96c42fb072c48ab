import {
  AppDeployQueued,
  AppReplicaFailed,
  AppReplicaHealthy,
  AppReplicaRestarted,
  AppReplicasStopped,
  AppReplicaStarting,
  AppRolloutAborted,
  AppRolloutFailed,
  AppStopped,
  DeploymentErrors,
  type ReplicaState,
  type StoredAppSpecV1,
} from '@mycelium/contracts';
import { type App, type AppEvent, isLive, type Replica, type Rollout } from './app.js';

/** The latest a node's agent said about a replica. */
export interface Observed {
  state: ReplicaState;
  address?: string;
  message?: string;
  /** Restarts in place since the replica started on its node. */
  restarts?: number;
}

export interface PlanContext {
  now: number;
  observe(replicaId: string): Observed | undefined;
  /** Whether billing meters the app at its current replica count. */
  meterSynced: boolean;
}

/** The next thing the saga does for an app: one step at a time, each recorded before the next. */
export type Step =
  | { kind: 'append'; events: AppEvent[] }
  | { kind: 'reserve'; rollout: Rollout }
  | { kind: 'convert'; rollout: Rollout }
  | { kind: 'schedule'; count: number; spec: StoredAppSpecV1; rolloutId?: string; spreadFrom: Replica[] }
  | { kind: 'capture'; rollout: Rollout; nodes: string[] }
  | { kind: 'release'; rollout: Rollout }
  | { kind: 'meter-update' }
  | { kind: 'meter-stop' }
  | { kind: 'idle' };

export interface Plan {
  step: Step;
  /** Replicas the app's nodes should run but have not said they do: (re)send their start. */
  start: Replica[];
}

/**
 * The deploy saga as a pure function of the app's log and what agents report: which step comes
 * next. Every step is idempotent (billing's commands are keyed by the reservation, an agent's start
 * by the replica), so after a crash the saga simply plans again from the log and goes on.
 */
export function plan(app: App, ctx: PlanContext): Plan {
  const live = [...app.replicas.values()].filter(isLive);
  const start = live.filter((replica) => {
    if (replica.status !== 'scheduled' && replica.status !== 'starting' && replica.status !== 'healthy') return false;
    const seen = ctx.observe(replica.replicaId);
    return !seen || seen.state === 'stopped';
  });
  return { step: nextStep(app, live, ctx), start };
}

function nextStep(app: App, live: Replica[], ctx: PlanContext): Step {
  const at = new Date(ctx.now).toISOString();
  const rollout = app.rollout;
  if (rollout?.abort) return unwind(app, rollout, live, at);
  if (app.status === 'stopping') {
    if (live.length > 0) return stopReplicas(app, live, `the app is ${app.stopMode === 'suspend' ? 'suspended' : app.stopMode === 'delete' ? 'deleted' : 'stopped'}`, at);
    if (!ctx.meterSynced) return { kind: 'meter-stop' };
    const status = app.stopMode === 'suspend' ? 'suspended' : app.stopMode === 'delete' ? 'deleted' : 'stopped';
    return append({ type: AppStopped.type, data: { appId: app.appId, status, at } });
  }
  if (app.status === 'failed' || app.status === 'stopped' || app.status === 'suspended' || app.status === 'deleted') {
    return live.length > 0 ? stopReplicas(app, live, `the app is ${app.status}`, at) : { kind: 'idle' };
  }
  if (rollout) return advance(app, rollout, live, ctx, at);
  return reconcile(app, live, ctx, at);
}

function advance(app: App, rollout: Rollout, live: Replica[], ctx: PlanContext, at: string): Step {
  if (!rollout.reservationId) return { kind: 'reserve', rollout };
  if (!rollout.queued) return append({ type: AppDeployQueued.type, data: { appId: app.appId, rolloutId: rollout.rolloutId, ahead: 0, at } });
  if (!rollout.converted) return { kind: 'convert', rollout };
  const mine = live.filter((replica) => replica.rolloutId === rollout.rolloutId);
  const failing = firstFailing(mine, rollout.spec, ctx);
  if (failing) return abort(app, rollout, DeploymentErrors.Unhealthy, failing, at);
  const observations = observationEvents(app, mine, ctx, at);
  if (observations.length > 0) return append(...observations);
  const target = rollout.spec.replicas;
  if (rollout.kind === 'deploy') {
    if (mine.length < target) return { kind: 'schedule', count: target - mine.length, spec: rollout.spec, rolloutId: rollout.rolloutId, spreadFrom: mine };
    if (mine.some((replica) => replica.status !== 'healthy')) return { kind: 'idle' };
    return { kind: 'capture', rollout, nodes: mine.map((replica) => replica.nodeId) };
  }
  // An update rolls one replica at a time: a new one is healthy before an old one goes.
  if (mine.some((replica) => replica.status !== 'healthy')) return { kind: 'idle' };
  const old = live.filter((replica) => replica.rolloutId !== rollout.rolloutId);
  if (old.length > 0 && (mine.length + old.length > target || mine.length >= target)) {
    return stopReplicas(app, [pickToStop(old)], `replaced by version ${rollout.spec.version}`, at);
  }
  if (mine.length < target) return { kind: 'schedule', count: 1, spec: rollout.spec, rolloutId: rollout.rolloutId, spreadFrom: mine };
  return { kind: 'capture', rollout, nodes: mine.map((replica) => replica.nodeId) };
}

/** A failed rollout: stop what it started, refund its reservation, then say it failed. */
function unwind(app: App, rollout: Rollout, live: Replica[], at: string): Step {
  const started = rollout.kind === 'deploy' ? live : live.filter((replica) => replica.rolloutId === rollout.rolloutId);
  if (started.length > 0) return stopReplicas(app, started, `rollout ${rollout.rolloutId} failed: ${rollout.abort!.reason}`, at);
  if (rollout.reservationId && !rollout.refunded) return { kind: 'release', rollout };
  return append({
    type: AppRolloutFailed.type,
    data: {
      appId: app.appId,
      rolloutId: rollout.rolloutId,
      kind: rollout.kind,
      code: rollout.abort!.code,
      reason: rollout.abort!.reason,
      ...(rollout.kind === 'update' && rollout.previous ? { rolledBackTo: rollout.previous.version } : {}),
      at,
    },
  });
}

/** A running app keeps its replica count; replicas that never become healthy are replaced. */
function reconcile(app: App, live: Replica[], ctx: PlanContext, at: string): Step {
  const current = live.filter((replica) => replica.version === app.spec.version);
  const stale = live.filter((replica) => replica.version !== app.spec.version);
  if (stale.length > 0) return stopReplicas(app, stale, `version ${app.spec.version} runs now`, at);
  for (const replica of current) {
    const reason = failureOf(replica, app.spec, ctx);
    if (reason) return append({ type: AppReplicaFailed.type, data: { appId: app.appId, replicaId: replica.replicaId, nodeId: replica.nodeId, reason, at } });
  }
  const observations = observationEvents(app, current, ctx, at);
  if (observations.length > 0) return append(...observations);
  if (current.length > app.desiredReplicas) {
    const extras = [...current].sort(stopOrder).slice(0, current.length - app.desiredReplicas);
    return stopReplicas(app, extras, `scaled to ${app.desiredReplicas}`, at);
  }
  if (current.length < app.desiredReplicas) return { kind: 'schedule', count: app.desiredReplicas - current.length, spec: app.spec, spreadFrom: current };
  if (!ctx.meterSynced) return { kind: 'meter-update' };
  return { kind: 'idle' };
}

/** The events that record what agents report: a replica starting, or passing its health check. */
function observationEvents(app: App, replicas: Replica[], ctx: PlanContext, at: string): AppEvent[] {
  const events: AppEvent[] = [];
  for (const replica of replicas) {
    const seen = ctx.observe(replica.replicaId);
    if (!seen || seen.state === 'stopped' || seen.state === 'stopping') continue;
    if (replica.status === 'scheduled') {
      events.push({ type: AppReplicaStarting.type, data: { appId: app.appId, replicaId: replica.replicaId, nodeId: replica.nodeId, at } });
    }
    if (replica.status !== 'healthy' && seen.state === 'healthy' && seen.address) {
      events.push({ type: AppReplicaHealthy.type, data: { appId: app.appId, replicaId: replica.replicaId, nodeId: replica.nodeId, address: seen.address, at } });
    }
    if ((seen.restarts ?? 0) > (replica.restarts ?? 0)) {
      events.push({
        type: AppReplicaRestarted.type,
        data: { appId: app.appId, replicaId: replica.replicaId, nodeId: replica.nodeId, restarts: seen.restarts!, ...(seen.message ? { message: seen.message.slice(0, 1000) } : {}), at },
      });
    }
  }
  return events;
}

function firstFailing(replicas: Replica[], spec: StoredAppSpecV1, ctx: PlanContext): string | undefined {
  for (const replica of replicas) {
    const reason = failureOf(replica, spec, ctx);
    if (reason) return reason;
  }
  return undefined;
}

/** Why a replica that is not healthy counts as failed: the node gave up on it, or it took too long. */
function failureOf(replica: Replica, spec: StoredAppSpecV1, ctx: PlanContext): string | undefined {
  if (replica.status === 'healthy') return undefined;
  const seen = ctx.observe(replica.replicaId);
  if (seen?.state === 'failed') return `replica ${replica.replicaId} on node ${replica.nodeId} failed${seen.message ? `: ${seen.message}` : ''}`;
  const waited = ctx.now - Date.parse(replica.scheduledAt);
  if (waited <= spec.health.startTimeoutMs) return undefined;
  const last = seen ? `it is ${seen.state}${seen.message ? ` (${seen.message})` : ''}` : 'its node never reported it';
  return `replica ${replica.replicaId} on node ${replica.nodeId} did not pass its health check (GET ${spec.health.path}) within ${spec.health.startTimeoutMs} ms: ${last}`;
}

/** Unhealthy first, then the newest. */
function stopOrder(a: Replica, b: Replica): number {
  const rank = (replica: Replica) => (replica.status === 'healthy' ? 1 : 0);
  return rank(a) - rank(b) || b.scheduledAt.localeCompare(a.scheduledAt) || a.replicaId.localeCompare(b.replicaId);
}

/** In a rolling update: an unhealthy old replica first, else the oldest. */
function pickToStop(old: Replica[]): Replica {
  return [...old].sort((a, b) => (a.status === 'healthy' ? 1 : 0) - (b.status === 'healthy' ? 1 : 0) || a.scheduledAt.localeCompare(b.scheduledAt) || a.replicaId.localeCompare(b.replicaId))[0]!;
}

function abort(app: App, rollout: Rollout, code: string, reason: string, at: string): Step {
  return append({ type: AppRolloutAborted.type, data: { appId: app.appId, rolloutId: rollout.rolloutId, code, reason, at } });
}

function stopReplicas(app: App, replicas: Replica[], reason: string, at: string): Step {
  return append({ type: AppReplicasStopped.type, data: { appId: app.appId, replicaIds: replicas.map((replica) => replica.replicaId), reason, at } });
}

function append(...events: AppEvent[]): Step {
  return { kind: 'append', events };
}

/** A rollout's refusal (no credits, no node, no price): it aborts, and the saga unwinds. */
export function abortStep(app: App, rollout: Rollout, code: string, reason: string, now: number): Step {
  return abort(app, rollout, code, reason, new Date(now).toISOString());
}
