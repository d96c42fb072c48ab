import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { type LogsReply, type LogsRequest, type StartReplica, type StopReplica, WorkloadSubjects } from '@mycelium/contracts';
import { NATS_CONNECTION, TOPOLOGY, type Topology } from '@mycelium/messaging';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Tells nodes' agents what to run. Starts and stops are idempotent: sending one twice is harmless. */
@Injectable()
export class AgentLink {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
  ) {}

  start(nodeId: string, message: StartReplica): void {
    this.nc.publish(this.topology.subject(WorkloadSubjects.start(nodeId)), encoder.encode(JSON.stringify(message)));
  }

  stop(nodeId: string, message: StopReplica): void {
    this.nc.publish(this.topology.subject(WorkloadSubjects.stop(nodeId)), encoder.encode(JSON.stringify(message)));
  }

  async logs(nodeId: string, request: LogsRequest, timeoutMs = 3000): Promise<LogsReply> {
    try {
      const reply = await this.nc.request(this.topology.subject(WorkloadSubjects.logs(nodeId)), encoder.encode(JSON.stringify(request)), { timeout: timeoutMs });
      return JSON.parse(decoder.decode(reply.data)) as LogsReply;
    } catch (error) {
      return { ok: false, error: { code: 'NODE_UNREACHABLE', message: `node ${nodeId} did not answer: ${(error as Error).message}` } };
    }
  }
}
