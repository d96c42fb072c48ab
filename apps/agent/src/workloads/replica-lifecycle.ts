import type { ReplicaState } from '@mycelium/contracts/workloads';
import { restartDelayMs, type RestartBackoff } from './backoff.js';

/** Where one replica is in its life on this node, apart from its process. */
export interface ReplicaStatus {
  state: ReplicaState;
  /** When `state` last changed, ms since the epoch. */
  since: number;
  /** Starts after a crash, in all. */
  restarts: number;
  /** Exits in a row without a run that lasted: what the next restart waits on. */
  crashes: number;
  /** Failed health checks in a row. */
  failedChecks: number;
  /** In backoff: the wait before the next start. */
  retryInMs?: number;
  message?: string;
}

export type ReplicaEvent =
  | { type: 'spawned'; at: number }
  | { type: 'spawn-failed'; at: number; reason: string }
  | { type: 'check-passed'; at: number }
  | { type: 'check-failed'; at: number; reason: string }
  | { type: 'stop-requested'; at: number; reason: string }
  /** The process ended; `ranMs` is how long it lived, `how` its exit in words. */
  | { type: 'exited'; at: number; how: string; ranMs: number };

export interface LifecyclePolicy {
  /** Failed checks in a row before the replica counts as unhealthy. */
  failureThreshold: number;
  /** A run this long was no crash loop: the next exit starts the backoff from the beginning. */
  stableAfterMs: number;
  backoff: RestartBackoff;
}

const RUNNING: ReadonlySet<ReplicaState> = new Set(['starting', 'healthy', 'unhealthy']);

export const initialStatus = (at: number): ReplicaStatus => ({ state: 'starting', since: at, restarts: 0, crashes: 0, failedChecks: 0 });

/** The replica has ended and no process of it is left: a start begins it again. */
export const hasEnded = (state: ReplicaState): boolean => state === 'stopped' || state === 'failed';

/** A process of the replica may be alive (or about to be) in this state. */
export const isRunning = (state: ReplicaState): boolean => RUNNING.has(state);

/** A new state says its own why: the last one's message (and wait) go unless `changes` brings them. */
function enter(status: ReplicaStatus, state: ReplicaState, at: number, changes: Partial<ReplicaStatus>): ReplicaStatus {
  const next: ReplicaStatus = { ...status, ...changes, state, since: state === status.state ? status.since : at };
  if (changes.message === undefined) delete next.message;
  if (changes.retryInMs === undefined) delete next.retryInMs;
  return next;
}

/**
 * The next status after `event`. An event that means nothing in the current state (a health check
 * that finished after its process exited, a second stop) returns `status` itself, unchanged.
 */
export function evolveReplica(status: ReplicaStatus, event: ReplicaEvent, policy: LifecyclePolicy): ReplicaStatus {
  const { state } = status;
  switch (event.type) {
    case 'spawned':
      if (state === 'backoff') return enter(status, 'starting', event.at, { restarts: status.restarts + 1, failedChecks: 0 });
      return status;
    case 'spawn-failed':
      if (state === 'starting' || state === 'backoff') return enter(status, 'failed', event.at, { message: event.reason });
      return status;
    case 'check-passed':
      if (state === 'starting' || state === 'unhealthy') return enter(status, 'healthy', event.at, { failedChecks: 0 });
      if (state === 'healthy' && status.failedChecks > 0) return { ...status, failedChecks: 0 };
      return status;
    case 'check-failed': {
      if (!isRunning(state)) return status;
      const failedChecks = status.failedChecks + 1;
      if (state !== 'unhealthy' && failedChecks >= policy.failureThreshold) {
        return enter(status, 'unhealthy', event.at, { failedChecks, message: `${failedChecks} health checks failed in a row: ${event.reason}` });
      }
      return { ...status, failedChecks };
    }
    case 'stop-requested':
      if (isRunning(state)) return enter(status, 'stopping', event.at, { message: `stopping: ${event.reason}` });
      // Nothing runs between two starts: the stop is done at once.
      if (state === 'backoff') return enter(status, 'stopped', event.at, { message: `stopped: ${event.reason}` });
      return status;
    case 'exited':
      if (state === 'stopping') return enter(status, 'stopped', event.at, { message: event.how });
      if (isRunning(state)) {
        const crashes = event.ranMs >= policy.stableAfterMs ? 1 : status.crashes + 1;
        const retryInMs = restartDelayMs(crashes, policy.backoff);
        return enter(status, 'backoff', event.at, { crashes, failedChecks: 0, retryInMs, message: `${event.how}; starting again in ${retryInMs} ms` });
      }
      return status;
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled replica event ${JSON.stringify(unhandled)}`);
    }
  }
}
