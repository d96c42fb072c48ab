import { randomInt } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NodeCapabilitiesV1 } from '@mycelium/contracts';
import { GridLink, VirtualNode } from '@mycelium/node-client';

export type FaultKind = 'kill' | 'pause' | 'flap' | 'forge';

export interface SimulatorOptions {
  nc: NatsConnection;
  /** Maps grid subjects into the grid's namespace. */
  subject?: (subject: string) => string;
  network: string;
  token: string;
  regions?: string[];
  /** Joins in flight at once. */
  concurrency?: number;
}

interface Simulated {
  node: VirtualNode;
  state: 'joining' | 'running' | 'killed' | 'paused' | 'flapping' | 'forging' | 'failed' | 'stopped';
  /** Timers that would start its heartbeats later: cleared when the simulation stops. */
  startTimer?: NodeJS.Timeout;
  resumeTimer?: NodeJS.Timeout;
  flapTimer?: NodeJS.Timeout;
}

export interface SimulatorStats {
  nodes: number;
  byState: Record<string, number>;
  heartbeatsSent: number;
  notices: number;
}

/** Many virtual nodes sharing one NATS connection, each with its own key and heartbeat timer. */
export class Simulator {
  readonly #nodes: Simulated[] = [];
  readonly #link: GridLink;

  constructor(private readonly options: SimulatorOptions) {
    this.#link = new GridLink(options.nc, options.subject ?? ((subject) => subject));
  }

  get nodes(): VirtualNode[] {
    return this.#nodes.map((simulated) => simulated.node);
  }

  #capabilities(index: number): NodeCapabilitiesV1 {
    const regions = this.options.regions ?? ['sim-a', 'sim-b', 'sim-c'];
    const sizes = [
      { cpuCores: 2, memoryMiB: 4096, diskGiB: 50 },
      { cpuCores: 4, memoryMiB: 8192, diskGiB: 200 },
      { cpuCores: 8, memoryMiB: 32768, diskGiB: 1000 },
    ];
    return { ...sizes[index % sizes.length]!, region: regions[index % regions.length]!, tags: ['simulated'], agentVersion: 'sim-0.1.0' };
  }

  /** Joins `count` new nodes; resolves when every join was answered. */
  async join(count: number): Promise<{ joined: number; failed: number; ms: number; errors: string[] }> {
    const started = performance.now();
    const pending = Array.from({ length: count }, (_, i) => {
      const simulated: Simulated = {
        node: new VirtualNode({
          link: this.#link,
          network: this.options.network,
          token: this.options.token,
          capabilities: this.#capabilities(this.#nodes.length + i),
          requestedTier: 'sclerotia',
        }),
        state: 'joining',
      };
      this.#nodes.push(simulated);
      return simulated;
    });
    const errors: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < pending.length) {
        const simulated = pending[next++]!;
        try {
          await simulated.node.join();
          simulated.state = 'running';
        } catch (error) {
          simulated.state = 'failed';
          if (errors.length < 5) errors.push((error as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency ?? 64, count) }, worker));
    const failed = pending.filter((simulated) => simulated.state === 'failed').length;
    return { joined: count - failed, failed, ms: performance.now() - started, errors };
  }

  /** Every running node heartbeats at `intervalMs`, their first beats spread over one interval. */
  startHeartbeats(intervalMs: number): void {
    for (const simulated of this.#nodes) {
      if (simulated.state !== 'running') continue;
      // A fault may land before the first beat: a killed or paused node stays quiet, a forger beats.
      clearTimeout(simulated.startTimer);
      simulated.startTimer = setTimeout(() => {
        simulated.startTimer = undefined;
        if (simulated.state === 'running' || simulated.state === 'forging') simulated.node.startHeartbeats(intervalMs);
      }, randomInt(intervalMs));
      simulated.startTimer.unref();
    }
  }

  /** Applies a fault to `count` random running nodes; returns their ids. */
  fault(kind: FaultKind, count: number, options: { pauseMs?: number; intervalMs?: number } = {}): string[] {
    const running = this.#nodes.filter((simulated) => simulated.state === 'running');
    const chosen: Simulated[] = [];
    while (chosen.length < count && running.length > 0) chosen.push(running.splice(randomInt(running.length), 1)[0]!);
    const intervalMs = options.intervalMs ?? 1000;
    for (const simulated of chosen) {
      switch (kind) {
        case 'kill':
          simulated.node.kill();
          simulated.state = 'killed';
          break;
        case 'pause': {
          const pauseMs = options.pauseMs ?? 10_000;
          simulated.node.stopHeartbeats();
          simulated.state = 'paused';
          simulated.resumeTimer = setTimeout(() => {
            simulated.resumeTimer = undefined;
            // Stopped meanwhile: it stays quiet.
            if (simulated.state !== 'paused') return;
            simulated.state = 'running';
            simulated.node.startHeartbeats(intervalMs);
          }, pauseMs);
          simulated.resumeTimer.unref();
          break;
        }
        case 'flap': {
          // Alternates between heartbeating and silence long enough to be suspected.
          simulated.state = 'flapping';
          let up = true;
          const period = intervalMs * 5;
          simulated.flapTimer = setInterval(() => {
            up = !up;
            if (up) simulated.node.startHeartbeats(intervalMs);
            else simulated.node.stopHeartbeats();
          }, period);
          simulated.flapTimer.unref();
          break;
        }
        case 'forge':
          simulated.node.forge();
          simulated.state = 'forging';
          break;
        default: {
          const unknownFault: never = kind;
          throw new Error(`unknown fault ${String(unknownFault)}`);
        }
      }
    }
    return chosen.map((simulated) => simulated.node.nodeId);
  }

  stats(): SimulatorStats {
    const byState: Record<string, number> = {};
    let heartbeatsSent = 0;
    let notices = 0;
    for (const simulated of this.#nodes) {
      byState[simulated.state] = (byState[simulated.state] ?? 0) + 1;
      heartbeatsSent += simulated.node.heartbeatsSent;
      notices += simulated.node.notices.length;
    }
    return { nodes: this.#nodes.length, byState, heartbeatsSent, notices };
  }

  /** Stops every node, paused ones included; with `leave`, each tells the grid first. */
  async stop(options: { leave?: boolean } = {}): Promise<void> {
    const joined = this.#nodes.filter((s) => s.state !== 'failed' && s.state !== 'joining' && s.state !== 'stopped');
    for (const simulated of this.#nodes) {
      clearTimeout(simulated.startTimer);
      clearTimeout(simulated.resumeTimer);
      clearInterval(simulated.flapTimer);
      if (simulated.state !== 'failed' && simulated.state !== 'joining') simulated.state = 'stopped';
    }
    if (options.leave) await Promise.allSettled(joined.map((s) => s.node.leave('simulation over')));
    for (const simulated of this.#nodes) simulated.node.close();
  }
}
