import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { CommandReply } from '@mycelium/contracts';
import { type AgentNotice, AgentSubjects, type JoinAccepted } from '@mycelium/contracts/agent';
import type { SignedEnvelope } from '@mycelium/identity';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The grid said no: the code and the reason, as the spores service gave them. */
export class JoinRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'JoinRefused';
  }
}

/**
 * The node protocol over NATS. `prefix` maps grid subjects to the namespace the grid runs in
 * (empty in production).
 */
export class GridLink {
  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: (subject: string) => string = (subject) => subject,
  ) {}

  async join(message: SignedEnvelope, timeoutMs = 10_000): Promise<JoinAccepted> {
    const reply = await this.nc.request(this.prefix(AgentSubjects.join), encoder.encode(JSON.stringify(message)), { timeout: timeoutMs });
    const answer = JSON.parse(decoder.decode(reply.data)) as CommandReply<JoinAccepted>;
    if (!answer.ok) throw new JoinRefused(answer.error.code, answer.error.message);
    return answer.result;
  }

  heartbeat(nodeId: string, message: SignedEnvelope): void {
    this.nc.publish(this.prefix(AgentSubjects.heartbeat(nodeId)), encoder.encode(JSON.stringify(message)));
  }

  async leave(nodeId: string, message: SignedEnvelope, timeoutMs = 5000): Promise<void> {
    const reply = await this.nc.request(this.prefix(AgentSubjects.leave(nodeId)), encoder.encode(JSON.stringify(message)), { timeout: timeoutMs });
    const answer = JSON.parse(decoder.decode(reply.data)) as CommandReply;
    if (!answer.ok) throw new JoinRefused(answer.error.code, answer.error.message);
  }

  /** Notices the spores service sends this node (why a heartbeat was refused, and what to do). */
  onNotice(nodeId: string, handle: (notice: AgentNotice) => void): Subscription {
    return this.nc.subscribe(this.prefix(AgentSubjects.notice(nodeId)), {
      callback: (_error, msg) => {
        try {
          handle(JSON.parse(decoder.decode(msg.data)) as AgentNotice);
        } catch {
          // a notice that is not JSON is not from the spores service
        }
      },
    });
  }
}
