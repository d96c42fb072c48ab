import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { type ReplicaReport, type WorkloadReport, WorkloadSubjects } from '@mycelium/contracts';
import { NATS_CONNECTION, SERVICE_LOGGER, TOPOLOGY, type Topology } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

export interface ObservedReplica {
  nodeId: string;
  report: ReplicaReport;
  /** When the node last reported (ms, our clock). */
  receivedAt: number;
}

const decoder = new TextDecoder();

/**
 * What the nodes' agents say they run, from their workload reports. Every deployment instance
 * listens; reports are level-triggered (every few seconds), so one missed while down is soon
 * replaced by the next.
 */
@Injectable()
export class ReplicaObservations implements OnModuleInit, OnModuleDestroy {
  readonly #replicas = new Map<string, ObservedReplica>();
  readonly #nodes = new Map<string, number>();
  readonly #listeners = new Set<(report: WorkloadReport) => void>();
  #subscription: Subscription | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.#subscription = this.nc.subscribe(this.topology.subject(WorkloadSubjects.allReports), {
      callback: (error, msg) => {
        if (error) return;
        const nodeId = this.topology.unprefixed(msg.subject).split('.')[1]!;
        try {
          this.record(nodeId, JSON.parse(decoder.decode(msg.data)) as WorkloadReport);
        } catch (parseError) {
          this.logger.warn({ err: parseError, nodeId }, 'ignored a malformed workload report');
        }
      },
    });
  }

  onModuleDestroy(): void {
    this.#subscription?.unsubscribe();
  }

  /** Folds one node's report in; the subject names the node, so a report cannot speak for another. */
  record(nodeId: string, report: WorkloadReport): void {
    if (!report || !Array.isArray(report.replicas)) throw new Error('a workload report needs a replicas array');
    const now = Date.now();
    this.#nodes.set(nodeId, now);
    const reported = new Set<string>();
    for (const replica of report.replicas) {
      if (typeof replica?.replicaId !== 'string' || typeof replica.state !== 'string') continue;
      reported.add(replica.replicaId);
      this.#replicas.set(replica.replicaId, { nodeId, report: replica, receivedAt: now });
    }
    // A replica the node no longer lists is gone from it.
    for (const [replicaId, observed] of this.#replicas) {
      if (observed.nodeId === nodeId && !reported.has(replicaId)) this.#replicas.delete(replicaId);
    }
    for (const listener of this.#listeners) listener({ ...report, nodeId });
  }

  get(replicaId: string): ObservedReplica | undefined {
    return this.#replicas.get(replicaId);
  }

  /** When the node last reported, ms since the epoch. */
  nodeReportedAt(nodeId: string): number | undefined {
    return this.#nodes.get(nodeId);
  }

  onReport(listener: (report: WorkloadReport) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
