import { randomInt } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { NodeCapabilitiesV1 } from '@mycelium/contracts';
import { ConsensusSubjects, type RoundInvitation } from '@mycelium/contracts/consensus';
import { type StartReplica, type StopReplica, WorkloadSubjects } from '@mycelium/contracts/workloads';
import { GridLink, networkChangeVote, newNodeIdentity, RoundVoter, SharedTicks, VirtualNode } from '@mycelium/node-client';
import type { ReplicaEndpoint } from './replica-endpoint.js';
import { VirtualWorkloads } from './virtual-workloads.js';

/** When a virtual node reveals, as a share of the reveal window (an agent waits a third). */
const REVEAL_AT = 0.05;

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
  /**
   * With an endpoint, every virtual node also acts as an agent beyond heartbeats: it runs
   * replicas (reported healthy at the endpoint's address), reports them every `reportMs`, serves
   * its gossip address there, and answers consensus rounds. Without one, nodes only join and beat.
   */
  endpoint?: ReplicaEndpoint;
  /** How often a node with an endpoint reports its workloads; default 2000 ms. */
  reportMs?: number;
}

interface Simulated {
  node: VirtualNode;
  workloads?: VirtualWorkloads;
  voter?: RoundVoter;
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
  readonly #byId = new Map<string, Simulated>();
  readonly #link: GridLink;
  /** Every node's heartbeats on one timer: those due together leave in one write. */
  readonly #ticks = new SharedTicks();
  #subscriptions: Subscription[] | undefined;
  #heartbeatMs: number | undefined;
  /** One probe of a foreign suspect per round, shared by every virtual voter. */
  readonly #probes = new Map<string, Promise<string>>();

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
    const endpoint = this.options.endpoint;
    if (endpoint) this.#listen();
    const pending = Array.from({ length: count }, (_, i) => {
      const identity = newNodeIdentity();
      const capabilities = this.#capabilities(this.#nodes.length + i);
      const simulated: Simulated = {
        node: new VirtualNode({
          link: this.#link,
          network: this.options.network,
          token: this.options.token,
          capabilities,
          requestedTier: 'sclerotia',
          identity,
          ticks: this.#ticks,
          ...(endpoint ? { gossipAddress: endpoint.gossipAddressOf(identity.nodeId) } : {}),
        }),
        state: 'joining',
      };
      if (endpoint) {
        const publish = (subject: string, body: string) => this.#publish(subject, body);
        simulated.workloads = new VirtualWorkloads({ nodeId: identity.nodeId, publish, address: endpoint.address, reportMs: this.options.reportMs ?? 2000 });
        simulated.voter = new RoundVoter({
          nodeId: identity.nodeId,
          signer: identity.signer,
          publish,
          judge: (invitation) => this.#judge(invitation, capabilities.agentVersion),
          // Virtual nodes share the services' clock: they need no room for skew, and one busy
          // process running a thousand of them needs the rest of the window to get its reveals out.
          revealAt: REVEAL_AT,
        });
      }
      this.#nodes.push(simulated);
      this.#byId.set(identity.nodeId, simulated);
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
          simulated.workloads?.startReporting();
          // Heartbeats already asked for: a node beats from its join, not once all the others joined.
          if (this.#heartbeatMs !== undefined) simulated.node.startHeartbeats(this.#heartbeatMs);
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

  /**
   * Every running node heartbeats at `intervalMs`, their first beats spread over one interval;
   * nodes that join afterwards beat from their join on.
   */
  startHeartbeats(intervalMs: number): void {
    this.#heartbeatMs = intervalMs;
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

  /** Applies a fault to `count` random running nodes (only among `among`, when given); returns their ids. */
  fault(kind: FaultKind, count: number, options: { pauseMs?: number; intervalMs?: number; among?: readonly string[] } = {}): string[] {
    const among = options.among ? new Set(options.among) : undefined;
    const running = this.#nodes.filter((simulated) => simulated.state === 'running' && (!among || among.has(simulated.node.nodeId)));
    const chosen: Simulated[] = [];
    while (chosen.length < count && running.length > 0) chosen.push(running.splice(randomInt(running.length), 1)[0]!);
    const intervalMs = options.intervalMs ?? 1000;
    for (const simulated of chosen) {
      switch (kind) {
        case 'kill':
          this.#die(simulated);
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
    for (const simulated of this.#nodes) {
      simulated.node.close();
      simulated.workloads?.kill();
      simulated.voter?.stop();
    }
    for (const subscription of this.#subscriptions ?? []) subscription.unsubscribe();
  }

  /** What the virtual nodes run now (nodes with an endpoint only). */
  replicas(): { nodeId: string; replicaId: string; appId: string; state: string }[] {
    return this.#nodes.flatMap((simulated) =>
      (simulated.workloads?.replicas ?? []).map((replica) => ({ nodeId: simulated.node.nodeId, replicaId: replica.replicaId, appId: replica.appId, state: replica.state })),
    );
  }

  /** The machine is gone: no heartbeats, replicas, reports, votes, nor gossip answers. */
  #die(simulated: Simulated): void {
    simulated.node.kill();
    simulated.workloads?.kill();
    simulated.voter?.stop();
    this.options.endpoint?.silence(simulated.node.nodeId);
  }

  #publish(subject: string, body: string): void {
    const mapped = (this.options.subject ?? ((s: string) => s))(subject);
    try {
      this.options.nc.publish(mapped, body);
    } catch {
      // the connection is closing: the simulation is over
    }
  }

  /**
   * One subscription per kind for all virtual nodes rather than three per node: the node is the
   * subject's second token from the end but two (`agent.<id>.workloads.start`).
   */
  #listen(): void {
    if (this.#subscriptions) return;
    const map = this.options.subject ?? ((subject: string) => subject);
    const route = (pattern: string, handle: (simulated: Simulated, body: unknown) => void) =>
      this.options.nc.subscribe(map(pattern), {
        callback: (error, msg) => {
          if (error) return;
          const tokens = msg.subject.split('.');
          const simulated = this.#byId.get(tokens[tokens.length - 3] ?? '');
          if (!simulated) return;
          let body: unknown;
          try {
            body = msg.json();
          } catch {
            return;
          }
          handle(simulated, body);
        },
      });
    this.#subscriptions = [
      route(WorkloadSubjects.start('*'), (simulated, body) => void simulated.workloads?.start(body as StartReplica)),
      route(WorkloadSubjects.stop('*'), (simulated, body) => simulated.workloads?.stop(body as StopReplica)),
      route(ConsensusSubjects.invite('*'), (simulated, body) => void simulated.voter?.invited(body)),
    ];
  }

  /**
   * How a virtual node votes on a round. node-liveness about one of ours: the simulator knows
   * whether that machine is gone (a paused node is up: it only went quiet to the control plane).
   * About another node: one GET of its gossip address per round, as an agent probes it.
   */
  async #judge(invitation: RoundInvitation, agentVersion: string): Promise<string | undefined> {
    if (invitation.topic === 'network-change') return networkChangeVote(agentVersion)(invitation);
    if (invitation.topic !== 'node-liveness') return undefined;
    const ours = this.#byId.get(invitation.subject);
    if (ours) return ours.state === 'killed' || ours.state === 'stopped' ? 'down' : 'up';
    const address = invitation.suspect?.gossipAddress;
    if (!address) return undefined;
    let probe = this.#probes.get(invitation.roundId);
    if (!probe) {
      const timeoutMs = Math.max(10, Math.min(1000, (Date.parse(invitation.commitDeadline) - Date.now()) / 2));
      probe = fetch(address, { signal: AbortSignal.timeout(timeoutMs) }).then(
        async (response) => {
          await response.arrayBuffer();
          return 'up';
        },
        () => 'down',
      );
      this.#probes.set(invitation.roundId, probe);
      setTimeout(() => this.#probes.delete(invitation.roundId), Math.max(0, Date.parse(invitation.revealDeadline) - Date.now()) + 1000).unref();
    }
    return probe;
  }
}
