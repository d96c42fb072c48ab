import { randomUUID } from 'node:crypto';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  CommandRejection,
  ErrorCodes,
  GetNode,
  GetRound,
  type GetRoundV1,
  GetTrust,
  type GetTrustV1,
  type OpenedRound,
  OpenRound,
  type OpenRoundV1,
  type RoundView,
  type TrustView,
} from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { COMMAND_CLIENT, type CommandClient, type CommandContext, EVENT_STORE, OnCommand } from '@mycelium/messaging';
import { CONSENSUS_CONFIG, type ConsensusConfig } from '../consensus.config.js';
import { ConsensusDirectory, roundStream, trustStream } from '../directory/consensus-directory.js';
import { drawCommittee } from '../domain/round/committee.js';
import { roundDecider } from '../domain/round/round.decider.js';
import type { Round, RoundEvent } from '../domain/round/round.js';
import { evolveRound } from '../domain/round/round.js';
import { trustDecider, type TrustEvent } from '../domain/trust/trust.js';
import { AliveNodes } from '../protocol/alive-nodes.js';
import { Invitations } from '../protocol/invitations.js';

/** Opening rounds, reading rounds and trust. */
@Controller()
export class RoundsHandlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    @Inject(CONSENSUS_CONFIG) private readonly config: ConsensusConfig,
    private readonly directory: ConsensusDirectory,
    private readonly invitations: Invitations,
    private readonly aliveNodes: AliveNodes,
  ) {}

  @OnCommand(OpenRound)
  async open(@Payload() request: OpenRoundV1, @Ctx() ctx: CommandContext): Promise<OpenedRound> {
    await this.directory.ready;
    // 1. Who is asked: the given nodes, or a committee drawn from the alive ones by trust; never
    //    the subject, never the untrusted.
    const candidates = [...new Set(request.participants ?? (await this.aliveNodes.ids()))]
      .filter((nodeId) => nodeId !== request.subject && !this.directory.isExcluded(nodeId))
      .map((nodeId) => ({ nodeId, weight: this.directory.trustOf(nodeId) }));
    const participants = request.participants ? candidates : drawCommittee(candidates, this.config.committeeSize);
    // 2. For node-liveness, where the participants find the suspect.
    const suspectAddress = request.topic === 'node-liveness' ? await this.#gossipAddressOf(request.subject) : undefined;
    // 3. The invitations as the round is recorded: the commit window runs from when they go out,
    //    not from when a busy database is done (votes that beat the append are held for it).
    const roundId = randomUUID();
    const events = roundDecider.decide(
      {
        type: 'OpenRound',
        data: {
          roundId,
          topic: request.topic,
          question: request.question,
          subject: request.subject,
          options: request.options,
          participants,
          commitMs: request.commitMs,
          revealMs: request.revealMs,
          quorum: request.quorum ?? this.config.defaultQuorum,
          ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
          ...(suspectAddress ? { suspectAddress } : {}),
          now: new Date().toISOString(),
        },
      },
      undefined,
    );
    const opened = evolveRound(undefined, events[0]!)!.opened;
    this.invitations.send(opened);
    await this.store.append(roundStream(roundId), events.map((event) => ({ ...event, metadata: ctx.eventMetadata })), { expectedVersion: 'no-stream' });
    return { roundId, participants, commitDeadline: opened.commitDeadline, revealDeadline: opened.revealDeadline };
  }

  @OnCommand(GetRound)
  async getRound(@Payload() request: GetRoundV1): Promise<RoundView> {
    const events = await this.store.readStream(roundStream(request.roundId));
    const round = events.reduce<Round | undefined>((state, recorded) => evolveRound(state, { type: recorded.type, data: recorded.data } as RoundEvent), undefined);
    if (!round) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no round ${request.roundId}`, field: 'roundId' });
    return viewOf(round);
  }

  @OnCommand(GetTrust)
  async getTrust(@Payload() request: GetTrustV1): Promise<TrustView> {
    const state = await this.#trustState(request.nodeId);
    const trust = state.trust ?? this.directory.initialTrust(request.nodeId);
    return {
      nodeId: request.nodeId,
      trust,
      genesis: this.directory.isGenesis(request.nodeId),
      excluded: trust < this.config.exclusionThreshold,
      changes: state.changes,
    };
  }

  async #trustState(nodeId: string) {
    const events = await this.store.readStream(trustStream(nodeId));
    return events.reduce((state, recorded) => trustDecider.evolve(state, { type: recorded.type, data: recorded.data } as TrustEvent), trustDecider.initialState());
  }

  async #gossipAddressOf(nodeId: string): Promise<string | undefined> {
    const reply = await this.client.send(GetNode, { nodeId });
    if (reply.ok) return reply.result.node.gossipAddress;
    if (reply.error.code === ErrorCodes.NotFound) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no node ${nodeId} has joined this grid`, field: 'subject' });
    throw new CommandRejection({ code: ErrorCodes.ServiceUnavailable, message: `cannot look the suspect up: ${reply.error.message}` });
  }
}

export function viewOf(round: Round): RoundView {
  const { opened, closed } = round;
  return {
    roundId: round.roundId,
    status: round.status,
    topic: opened.topic,
    question: opened.question,
    subject: opened.subject,
    options: opened.options,
    participants: opened.participants.map(({ nodeId, weight }) => {
      const reveal = round.reveals[nodeId];
      return { nodeId, weight, committed: round.commits[nodeId] !== undefined, ...(reveal ? { vote: reveal.vote, valid: reveal.valid } : {}) };
    }),
    commitDeadline: opened.commitDeadline,
    revealDeadline: opened.revealDeadline,
    quorum: opened.quorum,
    ...(opened.requestedBy ? { requestedBy: opened.requestedBy } : {}),
    ...(closed ? { outcome: closed.outcome, tally: closed.tally, offenders: closed.offenders, closedAt: closed.at } : {}),
  };
}
