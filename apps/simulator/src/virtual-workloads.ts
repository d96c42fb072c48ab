import { randomInt } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { type ReplicaReport, type StartReplica, type StopReplica, type WorkloadReport, WorkloadSubjects } from '@mycelium/contracts/workloads';

export interface VirtualWorkloadsOptions {
  nodeId: string;
  /** Sends a message on a grid subject (the simulator maps it into the grid's namespace). */
  publish: (subject: string, body: string) => void;
  /** `host:port` every virtual replica reports: the simulator's one shared endpoint. */
  address: string;
  /** How often the node reports everything it runs, as an agent does, besides on every change. */
  reportMs: number;
}

/**
 * What a virtual node runs: it answers `agent.<id>.workloads.start` and `.stop` as an agent
 * would, without a process per replica. A started replica passes one real HTTP health check
 * against the shared endpoint and is then reported healthy at its address; the node reports all
 * its replicas on every change and every `reportMs` (the deployment service is level-triggered).
 */
export class VirtualWorkloads {
  readonly #replicas = new Map<string, ReplicaReport>();
  #timer: NodeJS.Timeout | undefined;
  #reportQueued = false;
  #dead = false;

  constructor(private readonly options: VirtualWorkloadsOptions) {}

  get replicas(): ReplicaReport[] {
    return [...this.#replicas.values()];
  }

  /** Reports every `reportMs`, the first at a random point in the first interval. */
  startReporting(): void {
    if (this.#dead || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#report();
      this.#timer = setInterval(() => this.#report(), this.options.reportMs);
      this.#timer.unref();
    }, randomInt(this.options.reportMs));
    this.#timer.unref();
  }

  /** Idempotent by replica id, as the agent's start is. */
  async start(message: StartReplica): Promise<void> {
    if (this.#dead || this.#replicas.has(message.replicaId)) return;
    const since = new Date().toISOString();
    const replica: ReplicaReport = {
      replicaId: message.replicaId,
      appId: message.appId,
      version: message.version,
      state: 'starting',
      restarts: 0,
      limits: { memory: 'none', cpu: 'none' },
      since,
    };
    this.#replicas.set(message.replicaId, replica);
    this.#changed();
    const healthy = await this.#check(message.health.path, Math.max(message.health.timeoutMs, 1000), message.health.intervalMs);
    // Stopped or killed while it was checked: nothing to report.
    if (this.#dead || this.#replicas.get(message.replicaId) !== replica) return;
    Object.assign(replica, healthy
      ? { state: 'healthy', address: this.options.address, since: new Date().toISOString() }
      : { state: 'failed', message: `GET ${message.health.path} on ${this.options.address} did not answer 2xx`, since: new Date().toISOString() });
    this.#changed();
  }

  stop(message: StopReplica): void {
    if (this.#dead || !this.#replicas.delete(message.replicaId)) return;
    this.#changed();
  }

  /** The node died: it runs nothing and reports nothing from now on. */
  kill(): void {
    this.#dead = true;
    clearTimeout(this.#timer);
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#replicas.clear();
  }

  /** A burst of starts makes one report, not one each. */
  #changed(): void {
    if (this.#reportQueued) return;
    this.#reportQueued = true;
    setImmediate(() => {
      this.#reportQueued = false;
      this.#report();
    });
  }

  #report(): void {
    if (this.#dead) return;
    const report: WorkloadReport = { nodeId: this.options.nodeId, at: Date.now(), replicas: this.replicas };
    this.options.publish(WorkloadSubjects.report(this.options.nodeId), JSON.stringify(report));
  }

  /** As an agent's start check: GET the path until it answers 2xx, a few tries `intervalMs` apart. */
  async #check(path: string, timeoutMs: number, intervalMs: number): Promise<boolean> {
    for (let attempt = 0; attempt < 3 && !this.#dead; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
      if (await answers2xx(`http://${this.options.address}${path.startsWith('/') ? path : `/${path}`}`, timeoutMs)) return true;
    }
    return false;
  }
}

/** One GET on a fresh connection: a shared keep-alive pool would race the server closing idle sockets. */
function answers2xx(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpRequest(url, { method: 'GET', timeout: timeoutMs, agent: false, headers: { connection: 'close' } }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status < 300);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.end();
  });
}
