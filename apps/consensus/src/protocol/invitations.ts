import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConsensusSubjects, type RoundInvitation, type RoundOpenedV1 } from '@mycelium/contracts';
import { NATS_CONNECTION, SERVICE_LOGGER, TOPOLOGY, type Topology } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

/** Tells each participant of a round what it is asked, on its own subject. */
@Injectable()
export class Invitations {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  /** Idempotent for the agents: one who committed already ignores a second invitation. */
  send(opened: RoundOpenedV1): void {
    const invitation: RoundInvitation = {
      roundId: opened.roundId,
      topic: opened.topic,
      question: opened.question,
      subject: opened.subject,
      options: opened.options,
      commitDeadline: opened.commitDeadline,
      revealDeadline: opened.revealDeadline,
      ...(opened.topic === 'node-liveness' ? { suspect: { nodeId: opened.subject, ...(opened.suspectAddress ? { gossipAddress: opened.suspectAddress } : {}) } } : {}),
    };
    const body = JSON.stringify(invitation);
    for (const { nodeId } of opened.participants) {
      try {
        this.nc.publish(this.topology.subject(ConsensusSubjects.invite(nodeId)), body);
      } catch (error) {
        this.logger.warn({ err: error, nodeId, roundId: opened.roundId }, 'could not invite a participant');
      }
    }
  }
}
