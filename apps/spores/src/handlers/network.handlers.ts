import { randomBytes } from 'node:crypto';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  CommandRejection,
  ErrorCodes,
  GetNetwork,
  type GetNetworkV1,
  networkChangeSubject,
  type NetworkView,
  OpenRound,
  PROPOSAL_ID,
  type ProposedNetworkChange,
  ProposeNetworkChange,
  type ProposeNetworkChangeV1,
  RoundClosed,
  type RoundClosedV1,
} from '@mycelium/contracts';
import { type EventStore, handleCommand } from '@mycelium/eventstore';
import { COMMAND_CLIENT, type CommandClient, type CommandContext, EVENT_STORE, type EventContext, OnCommand, OnEvent } from '@mycelium/messaging';
import { checkProposal, networkDecider, type NetworkState, networkStateOf, networkStream } from '../domain/network/network.js';
import { SPORES_CONFIG, type SporesConfig } from '../spores.config.js';

/** How long the nodes have to commit, then to reveal, when the proposal does not say. */
const DEFAULT_WINDOW_MS = 2000;

/**
 * Network-wide changes (docs/adr/0020): a proposal is put to the nodes in a consensus round and
 * applies only if they approve it. The spores service owns the result, since joins obey it.
 */
@Controller()
export class NetworkHandlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    @Inject(SPORES_CONFIG) private readonly config: SporesConfig,
  ) {}

  @OnCommand(ProposeNetworkChange)
  async propose(@Payload() request: ProposeNetworkChangeV1, @Ctx() ctx: CommandContext): Promise<ProposedNetworkChange> {
    const stream = this.#stream();
    // Refused before the nodes are asked anything that could not apply.
    checkProposal(await this.#state(stream), request.change, request.value);
    const proposalId = `prop_${randomBytes(10).toString('hex')}`;
    const reply = await this.client.send(OpenRound, {
      topic: 'network-change',
      question: `Raise the minimum agent version to ${request.value}? Approve if this node runs ${request.value} or newer: older agents will no longer join.`,
      subject: networkChangeSubject(request.change, request.value),
      options: ['approve', 'reject'],
      commitMs: request.commitMs ?? DEFAULT_WINDOW_MS,
      revealMs: request.revealMs ?? DEFAULT_WINDOW_MS,
      requestedBy: proposalId,
    });
    if (!reply.ok) throw new CommandRejection({ code: reply.error.code, message: `the nodes could not be asked: ${reply.error.message}` });
    const { roundId, participants, revealDeadline } = reply.result;
    await handleCommand(
      this.store,
      stream,
      networkDecider,
      { type: 'ProposeChange', data: { proposalId, change: request.change, value: request.value, ...(request.reason ? { reason: request.reason } : {}), roundId, now: new Date().toISOString() } },
      { metadata: ctx.eventMetadata },
    );
    return { proposalId, roundId, participants: participants.length, revealDeadline };
  }

  @OnCommand(GetNetwork)
  async get(@Payload() request: GetNetworkV1): Promise<NetworkView> {
    const stream = this.#stream();
    const state = await this.#state(stream);
    const proposals = request.proposalId ? state.proposals.filter((proposal) => proposal.proposalId === request.proposalId) : state.proposals;
    if (request.proposalId && proposals.length === 0) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no proposal ${request.proposalId}`, field: 'proposalId' });
    return { networkId: this.config.network!.info.networkId, ...(state.minAgentVersion ? { minAgentVersion: state.minAgentVersion } : {}), proposals };
  }

  /** The round a proposal asked for has closed: the proposal is approved or rejected, once. */
  @OnEvent(RoundClosed, { durable: 'spores-network-rounds' })
  async roundClosed(@Payload() round: RoundClosedV1, @Ctx() ctx: EventContext): Promise<void> {
    if (round.topic !== 'network-change' || !round.requestedBy || !PROPOSAL_ID.test(round.requestedBy) || !this.config.network) return;
    await handleCommand(
      ctx.tx,
      networkStream(this.config.network.info.networkId),
      networkDecider,
      { type: 'RecordOutcome', data: { proposalId: round.requestedBy, roundId: round.roundId, outcome: round.outcome, tally: round.tally, now: round.at } },
      { metadata: ctx.eventMetadata },
    );
  }

  #stream(): string {
    if (!this.config.network) throw new CommandRejection({ code: ErrorCodes.IllegalState, message: 'this grid has no network yet: its operator runs `myc network init`' });
    return networkStream(this.config.network.info.networkId);
  }

  async #state(stream: string): Promise<NetworkState> {
    return networkStateOf(await this.store.readStream(stream));
  }
}
