import { parentPort, workerData } from 'node:worker_threads';
import autocannon from 'autocannon';

/** One load run: what the worker is handed. */
export interface LoadRun {
  url: string;
  connections: number;
  seconds: number;
  warmUpSeconds: number;
  headers?: Record<string, string>;
}

/** What one load run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

/**
 * Drives HTTP load with autocannon on a thread of its own, so the load generator does not share an
 * event loop with the proxy it measures. Warms up first (connections opened, code optimised), then
 * measures.
 */
const run = workerData as LoadRun;
const options = { url: run.url, connections: run.connections, headers: run.headers, timeout: 10 };
if (run.warmUpSeconds > 0) await autocannon({ ...options, duration: run.warmUpSeconds });
const result = autocannon.aggregateResult([await autocannon({ ...options, duration: run.seconds })], options);
const answer: LoadResult = {
  requestsPerSecond: result.requests.total / result.duration,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  requests: result.requests.total,
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
};
parentPort!.postMessage(answer);
