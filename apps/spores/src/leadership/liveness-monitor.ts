import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { NATS_CONNECTION, natsConnectedSince, SERVICE_LOGGER, SERVICE_METRICS } from '@mycelium/messaging';
import type { Logger, ServiceMetrics } from '@mycelium/telemetry';
import type { Gauge } from 'prom-client';
import type { NodeCommand } from '../domain/node/node.decider.js';
import { nextTier } from '../domain/node/tier-rules.js';
import { DAY_MS, uptimePercent } from '../domain/node/uptime.js';
import { NodeCommands } from '../registry/node-commands.js';
import { NodeRegistry } from '../registry/node-registry.js';
import { SPORES_CONFIG, type SporesConfig } from '../spores.config.js';
import { Leadership } from './leadership.js';

/**
 * Transitions being written at once. Unbounded, a stall (every node silent for a moment) would
 * send a write per node at once, and that storm would stall the service further.
 */
export const MAX_WRITES_IN_FLIGHT = 64;

/**
 * Liveness without an event per heartbeat: every instance remembers when it last heard from each
 * node; the leader turns silence into transitions (late, suspected, down) and a returning voice
 * into a recovery, and applies the tier rules.
 */
@Injectable()
export class LivenessMonitor implements OnApplicationBootstrap, OnModuleDestroy {
  readonly #lastHeard = new Map<string, number>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #tierTimer: NodeJS.Timeout | undefined;
  /** Nodes whose transition is being written. */
  readonly #writing = new Set<string>();
  readonly #inFlight: Gauge<never>;
  #evaluating = false;
  /** When this instance started hearing heartbeats; it judges no silence before. */
  #listeningSince: number | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(SPORES_CONFIG) private readonly config: SporesConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    private readonly registry: NodeRegistry,
    private readonly commands: NodeCommands,
    private readonly leadership: Leadership,
    @Inject(SERVICE_METRICS) metrics: ServiceMetrics,
  ) {
    this.#inFlight = metrics.gauge('mycelium_spores_liveness_writes_in_flight', 'Liveness transitions being written now (at most 64).');
  }

  onApplicationBootstrap(): void {
    const sweepEvery = Math.max(50, Math.floor(this.config.heartbeatIntervalMs / 4));
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepEvery);
    this.#tierTimer = setInterval(() => void this.#evaluateTiers(), this.config.tierEvaluationMs);
  }

  onModuleDestroy(): void {
    clearInterval(this.#sweepTimer);
    clearInterval(this.#tierTimer);
  }

  /** Called once heartbeats reach this instance (the registry is loaded and they are subscribed). */
  startListening(at = Date.now()): void {
    this.#listeningSince ??= at;
  }

  /**
   * Since when this instance could have heard every heartbeat as leader: not before it listened,
   * led, and last (re)connected to NATS. Undefined while it cannot judge at all.
   */
  #judgingSince(): number | undefined {
    const connectedSince = natsConnectedSince(this.nc);
    if (!this.leadership.isLeader || this.#listeningSince === undefined || connectedSince === undefined) return undefined;
    return Math.max(this.#listeningSince, this.leadership.leaderSince, connectedSince);
  }

  /** A valid heartbeat or join: the node is alive now. */
  signOfLife(nodeId: string, at = Date.now()): void {
    this.#lastHeard.set(nodeId, at);
    const entry = this.registry.get(nodeId);
    // One write at a time per node: each heartbeat until the registry shows the recovery would be another.
    if (entry && entry.node.status !== 'alive' && entry.node.status !== 'left' && this.leadership.isLeader && !this.#writing.has(nodeId)) {
      this.#record(nodeId, { type: 'RecordSignOfLife', data: { now: new Date(at).toISOString() } });
    }
  }

  forget(nodeId: string): void {
    this.#lastHeard.delete(nodeId);
  }

  #sweep(): void {
    const judgingSince = this.#judgingSince();
    if (judgingSince === undefined) return;
    const now = Date.now();
    const interval = this.config.heartbeatIntervalMs;
    for (const { node } of this.registry.entries()) {
      // A stalled machine sees every node silent at once: writes beyond the bound wait for the next sweep.
      if (this.#writing.size >= MAX_WRITES_IN_FLIGHT) return;
      if (node.status === 'down' || node.status === 'left' || this.#writing.has(node.nodeId)) continue;
      const heard = this.#lastHeard.get(node.nodeId) ?? 0;
      const statusSince = Date.parse(node.statusSince);
      const at = new Date(now).toISOString();
      if (node.status !== 'alive' && heard > statusSince) {
        // Heard by this instance while another led (or before the change was logged): recovered.
        this.#record(node.nodeId, { type: 'RecordSignOfLife', data: { now: new Date(heard).toISOString() } });
        continue;
      }
      // Silence counts from the last heartbeat heard, but never from before this instance could hear.
      const last = Math.max(heard, statusSince, judgingSince);
      const silence = now - last;
      const lastHeartbeatAt = new Date(last).toISOString();
      if (node.status === 'suspected') {
        const since = Math.max(Date.parse(node.suspectedAt ?? node.statusSince), judgingSince);
        if (now - since >= this.config.downGraceMs) {
          this.#record(node.nodeId, { type: 'DeclareNodeDown', data: { lastHeartbeatAt, now: at } });
        }
      } else if (silence > interval * this.config.missesBeforeSuspect) {
        this.#record(node.nodeId, { type: 'SuspectNode', data: { missedHeartbeats: Math.floor(silence / interval), lastHeartbeatAt, now: at } });
      } else if (node.status === 'alive' && silence > interval * 1.5) {
        this.#record(node.nodeId, { type: 'RecordHeartbeatMissed', data: { lastHeartbeatAt, now: at } });
      }
    }
  }

  /**
   * Writes a transition without holding up the sweep: the next one judges the other nodes on time
   * while this write waits for the log, and skips this node until its write is in the registry.
   */
  #record(nodeId: string, command: NodeCommand): void {
    this.#writing.add(nodeId);
    this.#inFlight.set(this.#writing.size);
    this.commands
      .execute(nodeId, command)
      .catch((error: unknown) => this.logger.warn({ err: error, nodeId }, 'could not record a liveness change'))
      .finally(() => {
        this.#writing.delete(nodeId);
        this.#inFlight.set(this.#writing.size);
      });
  }

  async #evaluateTiers(): Promise<void> {
    if (!this.leadership.isLeader || this.#evaluating) return;
    this.#evaluating = true;
    try {
      const now = new Date();
      for (const { node } of this.registry.entries()) {
        const decision = nextTier(node, uptimePercent(node.availability, now, DAY_MS), now, this.config.tierRules);
        if (!decision) continue;
        await this.commands
          .execute(node.nodeId, { type: 'ChangeTier', data: { to: decision.tier, reason: decision.reason, now: now.toISOString() } })
          .catch((error: unknown) => this.logger.warn({ err: error, nodeId: node.nodeId }, 'could not change a tier'));
      }
    } finally {
      this.#evaluating = false;
    }
  }
}
