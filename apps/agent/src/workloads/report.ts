import type { LimitEnforcement, ReplicaReport, StartReplica } from '@mycelium/contracts/workloads';
import { hasEnded, type ReplicaStatus } from './replica-lifecycle.js';

/** What the runtime knows of one replica, as far as a report needs it. */
export interface ReplicaView {
  spec: Pick<StartReplica, 'replicaId' | 'appId' | 'version'>;
  status: ReplicaStatus;
  pid?: number;
  /** host:port, once it listens. */
  address?: string;
  limits: { memory: LimitEnforcement; cpu: LimitEnforcement };
}

/** How long a stopped or failed replica stays in reports, so the grid sees how it ended. */
export const ENDED_RETENTION_MS = 60_000;

export function replicaReport(view: ReplicaView): ReplicaReport {
  const { spec, status } = view;
  return {
    replicaId: spec.replicaId,
    appId: spec.appId,
    version: spec.version,
    state: status.state,
    ...(view.address !== undefined ? { address: view.address } : {}),
    ...(view.pid !== undefined ? { pid: view.pid } : {}),
    restarts: status.restarts,
    ...(status.message !== undefined ? { message: status.message } : {}),
    limits: { ...view.limits },
    since: new Date(status.since).toISOString(),
  };
}

/** A replica that ended more than `retentionMs` ago is forgotten. */
export function isForgotten(status: ReplicaStatus, now: number, retentionMs = ENDED_RETENTION_MS): boolean {
  return hasEnded(status.state) && now - status.since >= retentionMs;
}

/** Every replica to report at `now`, in a stable order. */
export function buildReport(views: Iterable<ReplicaView>, now: number, retentionMs = ENDED_RETENTION_MS): ReplicaReport[] {
  return [...views]
    .filter((view) => !isForgotten(view.status, now, retentionMs))
    .map(replicaReport)
    .sort((a, b) => a.replicaId.localeCompare(b.replicaId));
}

/** host:port, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
