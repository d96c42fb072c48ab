import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { NodeStatusName, NodeUsageV1, NodeView, PeerRecord, QueryNodesV1 } from '@mycelium/contracts';
import { type EventStore, followAll, type RecordedEvent } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { evolveNode, initialNodeState, type KnownNode, type NodeEvent } from '../domain/node/node.js';
import { sclerotiumKind } from '../domain/node/tier-rules.js';
import { DAY_MS, uptimePercent } from '../domain/node/uptime.js';

export const NODE_STREAM_PREFIX = 'spores/node/';

export interface RegistryEntry {
  node: KnownNode;
  /** Position of the node's latest event: orders what the registry says about it. */
  position: bigint;
  usage?: NodeUsageV1;
  lastSeenAt?: number;
}

/**
 * The primary spore: every node the grid knows, folded from the node streams and kept current by
 * tailing them, plus what heartbeats report (usage), which is not worth an event each. Every
 * spores instance holds one, so any of them answers queries.
 */
@Injectable()
export class NodeRegistry implements OnModuleInit, OnModuleDestroy {
  readonly #nodes = new Map<string, RegistryEntry>();
  readonly #listeners = new Set<(entry: RegistryEntry) => void>();
  readonly #stop = new AbortController();
  readonly #waiters = new Set<{ position: bigint; done: () => void }>();
  #markReady!: () => void;
  #position = 0n;
  /** Resolves once the registry has caught up with the log as it was at start. */
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    // A store failure (a PostgreSQL restart) must not freeze the registry: it resumes where it was.
    void followAll(this.store, {
      streamPrefixes: [NODE_STREAM_PREFIX],
      signal: this.#stop.signal,
      apply: (events) => {
        for (const event of events) this.apply(event);
      },
      onCaughtUp: () => this.#markReady(),
      onError: (error, retryInMs) => this.logger.error({ err: error, retryInMs }, 'the node registry could not read the log; retrying'),
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  /** Folds one recorded node event in (idempotent by position). */
  apply(recorded: RecordedEvent): void {
    if (recorded.position <= this.#position) return;
    this.#position = recorded.position;
    for (const waiter of this.#waiters) if (waiter.position <= recorded.position) waiter.done();
    const nodeId = recorded.streamId.slice(NODE_STREAM_PREFIX.length);
    const existing = this.#nodes.get(nodeId);
    const state = evolveNode(existing?.node ?? initialNodeState(), { type: recorded.type, data: recorded.data } as NodeEvent);
    if (state.status === 'unknown') return;
    const entry: RegistryEntry = { ...existing, node: state, position: recorded.position };
    this.#nodes.set(nodeId, entry);
    for (const listener of this.#listeners) listener(entry);
  }

  /** Resolves once the registry has applied the event at `position` (or after `timeoutMs`). */
  async caughtUp(position: bigint, timeoutMs = 5000): Promise<void> {
    if (this.#position >= position) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiter = { position, done };
      this.#waiters.add(waiter);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      for (const waiter of this.#waiters) if (waiter.position === position) this.#waiters.delete(waiter);
    });
  }

  /** Calls `listener` after every change; returns a function that stops it. */
  onChange(listener: (entry: RegistryEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(nodeId: string): RegistryEntry | undefined {
    return this.#nodes.get(nodeId);
  }

  entries(): IterableIterator<RegistryEntry> {
    return this.#nodes.values();
  }

  get size(): number {
    return this.#nodes.size;
  }

  get position(): bigint {
    return this.#position;
  }

  /** What a heartbeat reports: kept in memory only. */
  recordUsage(nodeId: string, usage: NodeUsageV1, at: number): void {
    const entry = this.#nodes.get(nodeId);
    if (entry) {
      entry.usage = usage;
      entry.lastSeenAt = at;
    }
  }

  view(entry: RegistryEntry, now: Date): NodeView {
    const { node, usage } = entry;
    const last30d = uptimePercent(node.availability, now, 30 * DAY_MS);
    const kind = sclerotiumKind(node, last30d);
    return {
      nodeId: node.nodeId,
      tier: node.tier,
      ...(kind ? { sclerotium: kind } : {}),
      status: node.status,
      region: node.capabilities.region,
      tags: node.capabilities.tags,
      capabilities: {
        cpuCores: node.capabilities.cpuCores,
        memoryMiB: node.capabilities.memoryMiB,
        diskGiB: node.capabilities.diskGiB,
        agentVersion: node.capabilities.agentVersion,
      },
      // Until a heartbeat says otherwise, a node offers what it declared.
      free: {
        cpuCores: usage?.cpuFree ?? node.capabilities.cpuCores,
        memoryMiB: usage?.memoryFreeMiB ?? node.capabilities.memoryMiB,
        diskGiB: usage?.diskFreeGiB ?? node.capabilities.diskGiB,
      },
      uptime: { last24h: uptimePercent(node.availability, now, DAY_MS), last30d },
      trust: node.trust,
      joinedAt: node.joinedAt,
      ...(entry.lastSeenAt ? { lastSeenAt: new Date(entry.lastSeenAt).toISOString() } : {}),
      ...(node.gossipAddress ? { gossipAddress: node.gossipAddress } : {}),
      publicKey: node.publicKey,
    };
  }

  /** The nodes matching every given filter, most available first. */
  query(filters: QueryNodesV1, now: Date): { nodes: NodeView[]; total: number } {
    const matching: NodeView[] = [];
    for (const entry of this.#nodes.values()) {
      const view = this.view(entry, now);
      if (filters.status && view.status !== filters.status) continue;
      if (filters.tier && view.tier !== filters.tier) continue;
      if (filters.region && view.region !== filters.region) continue;
      if (filters.minFreeCpu !== undefined && view.free.cpuCores < filters.minFreeCpu) continue;
      if (filters.minFreeMemoryMiB !== undefined && view.free.memoryMiB < filters.minFreeMemoryMiB) continue;
      if (filters.minFreeDiskGiB !== undefined && view.free.diskGiB < filters.minFreeDiskGiB) continue;
      if (filters.minUptime !== undefined && view.uptime.last24h < filters.minUptime) continue;
      matching.push(view);
    }
    matching.sort(
      (a, b) =>
        b.uptime.last24h - a.uptime.last24h ||
        b.free.cpuCores - a.free.cpuCores ||
        b.free.memoryMiB - a.free.memoryMiB ||
        a.nodeId.localeCompare(b.nodeId),
    );
    return { nodes: matching.slice(0, filters.limit ?? 1000), total: matching.length };
  }

  /** The members to tell nodes about, as discovery records (authority: primary). */
  peers(options: { exclude?: string; statuses?: NodeStatusName[] } = {}): PeerRecord[] {
    const statuses = options.statuses ?? ['alive', 'late', 'suspected'];
    const peers: PeerRecord[] = [];
    for (const { node, position } of this.#nodes.values()) {
      if (node.nodeId === options.exclude || !statuses.includes(node.status)) continue;
      peers.push({
        nodeId: node.nodeId,
        publicKey: node.publicKey,
        ...(node.gossipAddress ? { address: node.gossipAddress } : {}),
        status: node.status,
        tier: node.tier,
        version: Number(position & 0x1f_ffff_ffff_ffffn),
      });
    }
    return peers;
  }
}
