import {
  AppDeployRequested,
  AppReplicaFailed,
  AppRolloutAborted,
  AppScaled,
  AppStopRequested,
  AppUpdateRequested,
  CommandRejection,
  DeploymentErrors,
  ErrorCodes,
  type StoredAppSpecV1,
} from '@mycelium/contracts';
import { type App, type AppEvent, isLive } from './app.js';

/** What people ask of an app; the saga's own steps are planned in saga.ts. */
export type AppCommand =
  | { type: 'Deploy'; appId: string; rolloutId: string; tenant: string; spec: StoredAppSpecV1; now: string }
  | { type: 'Update'; rolloutId: string; spec: StoredAppSpecV1; now: string }
  | { type: 'Scale'; replicas: number; now: string }
  | { type: 'Stop'; mode: 'stop' | 'suspend' | 'delete'; reason: string; now: string }
  /** Replicas that must go (their node is down, they keep crashing): the saga replaces them. */
  | { type: 'Fail'; replicaIds: string[]; reason: string; now: string };

const notFound = (appId: string) => new CommandRejection({ code: ErrorCodes.NotFound, message: `no app ${appId}: list yours with \`myc apps\``, field: 'appId' });

export function decide(command: AppCommand, app: App | undefined): AppEvent[] {
  if (command.type === 'Deploy') {
    if (app) throw new CommandRejection({ code: ErrorCodes.Conflict, message: `app ${command.appId} exists already` });
    return [{ type: AppDeployRequested.type, data: { appId: command.appId, rolloutId: command.rolloutId, tenant: command.tenant, spec: command.spec, at: command.now } }];
  }
  if (!app || app.status === 'deleted') throw notFound(app?.appId ?? 'of that id');
  switch (command.type) {
    case 'Fail':
      return command.replicaIds
        .map((replicaId) => app.replicas.get(replicaId))
        .filter((replica): replica is NonNullable<typeof replica> => replica !== undefined && isLive(replica))
        .map((replica) => ({ type: AppReplicaFailed.type, data: { appId: app.appId, replicaId: replica.replicaId, nodeId: replica.nodeId, reason: command.reason, at: command.now } }));
    case 'Update': {
      if (app.rollout) throw rolloutInProgress(app);
      if (app.status !== 'active') {
        throw new CommandRejection({
          code: ErrorCodes.IllegalState,
          message: `app ${app.appId} is ${app.status}: only an active app can be updated; deploy it again with \`myc deploy\``,
        });
      }
      if (command.spec.name !== app.spec.name) {
        throw new CommandRejection({ code: ErrorCodes.ValidationFailed, message: `an update keeps the app's name (${app.spec.name})`, field: 'spec.name' });
      }
      return [{ type: AppUpdateRequested.type, data: { appId: app.appId, rolloutId: command.rolloutId, spec: command.spec, fromVersion: app.spec.version, at: command.now } }];
    }
    case 'Scale': {
      if (app.rollout) throw rolloutInProgress(app);
      if (app.status !== 'active') {
        throw new CommandRejection({ code: ErrorCodes.IllegalState, message: `app ${app.appId} is ${app.status}: only an active app can be scaled; deploy it again with \`myc deploy\`` });
      }
      if (command.replicas === app.desiredReplicas) return [];
      return [{ type: AppScaled.type, data: { appId: app.appId, from: app.desiredReplicas, to: command.replicas, at: command.now } }];
    }
    case 'Stop': {
      const done = { stop: ['stopping', 'stopped', 'suspended'], suspend: ['stopping', 'stopped', 'suspended'], delete: [] as string[] }[command.mode];
      if (done.includes(app.status) && !(command.mode === 'delete')) return [];
      if (command.mode === 'delete' && app.stopMode === 'delete') return [];
      const events: AppEvent[] = [];
      if (app.rollout && !app.rollout.abort) {
        events.push({ type: AppRolloutAborted.type, data: { appId: app.appId, rolloutId: app.rollout.rolloutId, code: 'STOPPED', reason: command.reason, at: command.now } });
      }
      events.push({ type: AppStopRequested.type, data: { appId: app.appId, reason: command.reason, mode: command.mode, at: command.now } });
      return events;
    }
  }
}

function rolloutInProgress(app: App): CommandRejection {
  return new CommandRejection({
    code: DeploymentErrors.RolloutInProgress,
    message: `app ${app.appId} is in the middle of a ${app.rollout!.kind} to version ${app.rollout!.spec.version}: wait for it to finish (\`myc status ${app.spec.name}\`)`,
  });
}
