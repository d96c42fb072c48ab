/**
 * How the deployment service and node agents talk about workloads, without validation code, so the
 * agent can speak it without loading the validators (docs/adr/0014). Every subject is under the
 * node's own `agent.<nodeId>.>`, which is all a node's NATS credentials allow.
 *
 *   agent.<nodeId>.workloads.start    publish   StartReplica      (deployment → agent)
 *   agent.<nodeId>.workloads.stop     publish   StopReplica       (deployment → agent)
 *   agent.<nodeId>.workloads.report   publish   WorkloadReport    (agent → grid, on change and every few seconds)
 *   agent.<nodeId>.workloads.logs     request   LogsRequest → LogsReply
 *
 * Start and stop are idempotent and level-triggered: the agent reports everything it runs, and the
 * deployment service sends again whatever a report shows is not as it should be.
 */
export const WorkloadSubjects = {
  start: (nodeId: string) => `agent.${nodeId}.workloads.start`,
  stop: (nodeId: string) => `agent.${nodeId}.workloads.stop`,
  report: (nodeId: string) => `agent.${nodeId}.workloads.report`,
  logs: (nodeId: string) => `agent.${nodeId}.workloads.logs`,
  /** What the deployment service listens on, for all nodes. */
  allReports: 'agent.*.workloads.report',
} as const;

/** An HTTP health check of a replica. */
export interface HealthCheckSpec {
  /** Path requested on the replica's port, e.g. `/healthz`. */
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Failed checks in a row before a healthy replica counts as unhealthy. */
  failureThreshold: number;
}

export interface ReplicaResources {
  /** Cores, fractional allowed. */
  cpu: number;
  memoryMiB: number;
  storageGiB: number;
}

export interface StartReplica {
  replicaId: string;
  appId: string;
  tenant: string;
  /** The app's name, for logs and the replica's environment. */
  app: string;
  version: string;
  /** argv: the first element is the program. */
  command: string[];
  /** Environment, secrets already decrypted; PORT and MYCELIUM_* are set by the agent. */
  env: Record<string, string>;
  health: HealthCheckSpec;
  resources: ReplicaResources;
  /** Wait after SIGTERM before SIGKILL. */
  stopGraceMs: number;
}

export interface StopReplica {
  replicaId: string;
  reason: string;
}

/** Where a replica is in its life on the node. */
export const REPLICA_STATES = ['starting', 'healthy', 'unhealthy', 'backoff', 'stopping', 'stopped', 'failed'] as const;
export type ReplicaState = (typeof REPLICA_STATES)[number];

/** How a resource limit is held on this node. */
export type LimitEnforcement = 'cgroup' | 'rlimit' | 'none';

export interface ReplicaReport {
  replicaId: string;
  appId: string;
  version: string;
  state: ReplicaState;
  /** host:port the replica serves on, once it listens. */
  address?: string;
  pid?: number;
  restarts: number;
  /** Why it is in this state, in words (the last exit, the failing check). */
  message?: string;
  limits: { memory: LimitEnforcement; cpu: LimitEnforcement };
  since: string;
}

export interface WorkloadReport {
  nodeId: string;
  /** Milliseconds since the epoch, by the node's clock. */
  at: number;
  /** Every replica the agent knows, stopped ones for a while after they stop. */
  replicas: ReplicaReport[];
}

export interface LogsRequest {
  replicaId: string;
  /** The newest lines to return; default 200, at most 5000. */
  tail?: number;
}

export interface LogLine {
  /** ISO time the agent read the line. */
  at: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export type LogsReply = { ok: true; replicaId: string; lines: LogLine[] } | { ok: false; error: { code: string; message: string } };
