import type { AgentNotice, JoinAccepted, NodeCapabilitiesV1, NodeTierName, NodeUsageV1 } from '@mycelium/contracts';
import { generateKeyMaterial, Signer, type SignedEnvelope } from '@mycelium/identity';
import type { Subscription } from '@nats-io/transport-node';
import type { GridLink } from './grid-link.js';
import { heartbeatMessage, joinMessage, leaveMessage } from './messages.js';
import { type NodeIdentity, newNodeIdentity } from './node-identity.js';
import { ownTimers, type Ticks } from './shared-ticks.js';

export interface VirtualNodeOptions {
  link: GridLink;
  network: string;
  token: string;
  capabilities: NodeCapabilitiesV1;
  requestedTier?: NodeTierName;
  identity?: NodeIdentity;
  gossipAddress?: string;
  /** What times its heartbeats: its own timer unless many nodes share one (SharedTicks). */
  ticks?: Ticks;
}

/**
 * A node without a machine: the same signed protocol as the agent, driven in-process. The
 * simulator runs thousands; tests run a few, with faults on demand.
 */
export class VirtualNode {
  readonly identity: NodeIdentity;
  #seq = 0;
  #stopBeating: (() => void) | undefined;
  #resumeTimer: NodeJS.Timeout | undefined;
  #intervalMs = 2000;
  #forger: Signer | undefined;
  #notices: Subscription | undefined;
  readonly notices: AgentNotice[] = [];
  accepted: JoinAccepted | undefined;

  constructor(private readonly options: VirtualNodeOptions) {
    this.identity = options.identity ?? newNodeIdentity();
  }

  get nodeId(): string {
    return this.identity.nodeId;
  }

  get heartbeatsSent(): number {
    return this.#seq;
  }

  get heartbeating(): boolean {
    return this.#stopBeating !== undefined;
  }

  /** The network's certificate of this node's key, from its last join: what it shows gossip peers. */
  get membership(): SignedEnvelope | undefined {
    return this.accepted?.membership;
  }

  async join(): Promise<JoinAccepted> {
    this.#notices ??= this.options.link.onNotice(this.nodeId, (notice) => this.notices.push(notice));
    this.accepted = await this.options.link.join(
      joinMessage(this.identity, {
        network: this.options.network,
        token: this.options.token,
        requestedTier: this.options.requestedTier ?? 'sclerotia',
        capabilities: this.options.capabilities,
        ...(this.options.gossipAddress ? { gossipAddress: this.options.gossipAddress } : {}),
      }),
    );
    this.#intervalMs = this.accepted.heartbeatIntervalMs;
    return this.accepted;
  }

  /** Sends one heartbeat now; `now` and `nonce` let tests send stale and replayed ones. */
  heartbeat(overrides: { now?: number; nonce?: string; usage?: NodeUsageV1 } = {}): ReturnType<typeof heartbeatMessage> {
    this.#seq += 1;
    const identity = this.#forger ? { ...this.identity, signer: this.#forger } : this.identity;
    const message = heartbeatMessage(identity, {
      network: this.options.network,
      seq: this.#seq,
      usage: overrides.usage ?? this.#usage(),
      ...(overrides.now !== undefined ? { now: overrides.now } : {}),
      ...(overrides.nonce ? { nonce: overrides.nonce } : {}),
    });
    this.options.link.heartbeat(this.nodeId, message);
    return message;
  }

  /** Heartbeats at the interval the grid asked for (or `intervalMs`), until stopped. */
  startHeartbeats(intervalMs = this.#intervalMs): void {
    this.stopHeartbeats();
    this.#cancelResume();
    this.#intervalMs = intervalMs;
    this.#stopBeating = (this.options.ticks ?? ownTimers).every(intervalMs, () => this.heartbeat());
  }

  stopHeartbeats(): void {
    this.#stopBeating?.();
    this.#stopBeating = undefined;
  }

  /** Fault: the node dies without a word (and does not come back from a pause). */
  kill(): void {
    this.#cancelResume();
    this.stopHeartbeats();
  }

  /** Fault: silent for `ms`, then back at the interval it had; unless it is killed, leaves or is closed meanwhile. */
  pause(ms: number): void {
    this.stopHeartbeats();
    this.#cancelResume();
    const intervalMs = this.#intervalMs;
    this.#resumeTimer = setTimeout(() => {
      this.#resumeTimer = undefined;
      this.startHeartbeats(intervalMs);
    }, ms);
    this.#resumeTimer.unref();
  }

  #cancelResume(): void {
    clearTimeout(this.#resumeTimer);
    this.#resumeTimer = undefined;
  }

  /** Fault: from now on its messages are signed with a key that is not its own. */
  forge(): void {
    this.#forger = Signer.fromPem(generateKeyMaterial().privateKeyPem);
  }

  async leave(reason = 'stopped'): Promise<void> {
    this.kill();
    await this.options.link.leave(this.nodeId, leaveMessage(this.identity, { network: this.options.network, reason }));
  }

  close(): void {
    this.kill();
    this.#notices?.unsubscribe();
  }

  #usage(): NodeUsageV1 {
    const { cpuCores, memoryMiB, diskGiB } = this.options.capabilities;
    return { cpuFree: cpuCores, memoryFreeMiB: memoryMiB, diskFreeGiB: diskGiB };
  }
}
