import {
  CommandRejection,
  ErrorCodes,
  NetworkChangeApproved,
  type NetworkChangeDecidedV1,
  type NetworkChangeName,
  NetworkChangeProposed,
  type NetworkChangeProposedV1,
  NetworkChangeRejected,
  type NetworkProposalView,
} from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';
import { meetsVersion } from '@mycelium/node-client';

/** The network's own stream: its settings in force and the changes put to the nodes. */
export const NETWORK_STREAM_PREFIX = 'spores/network/';
export const networkStream = (networkId: string) => `${NETWORK_STREAM_PREFIX}${networkId}`;

export type NetworkEvent =
  | { type: typeof NetworkChangeProposed.type; data: NetworkChangeProposedV1 }
  | { type: typeof NetworkChangeApproved.type; data: NetworkChangeDecidedV1 }
  | { type: typeof NetworkChangeRejected.type; data: NetworkChangeDecidedV1 };

export interface NetworkState {
  minAgentVersion?: string;
  proposals: NetworkProposalView[];
}

export type NetworkCommand =
  | { type: 'ProposeChange'; data: { proposalId: string; change: NetworkChangeName; value: string; reason?: string; roundId: string; now: string } }
  | { type: 'RecordOutcome'; data: { proposalId: string; roundId: string; outcome: string; tally: Record<string, number>; now: string } };

export const NetworkErrors = {
  NotARaise: 'NOT_A_RAISE',
  AlreadyProposed: 'ALREADY_PROPOSED',
} as const;

export const initialNetworkState = (): NetworkState => ({ proposals: [] });

export const networkStateOf = (events: { type: string; data: unknown }[]): NetworkState =>
  events.reduce((state, recorded) => evolveNetwork(state, { type: recorded.type, data: recorded.data } as NetworkEvent), initialNetworkState());

/** A proposal still waiting for its round, for a change. */
const openProposal = (state: NetworkState, change: NetworkChangeName) => state.proposals.find((proposal) => proposal.change === change && proposal.status === 'proposed');

/** What is proposed must be checked before the round, so nodes are never asked a question that cannot apply. */
export function checkProposal(state: NetworkState, change: NetworkChangeName, value: string): void {
  const open = openProposal(state, change);
  if (open) {
    throw new CommandRejection({
      code: NetworkErrors.AlreadyProposed,
      message: `${change} ${open.value} is already put to the nodes (proposal ${open.proposalId}, round ${open.roundId}): wait for its outcome`,
      field: 'change',
    });
  }
  if (state.minAgentVersion && meetsVersion(state.minAgentVersion, value)) {
    throw new CommandRejection({ code: NetworkErrors.NotARaise, message: `the minimum agent version is ${state.minAgentVersion} already: propose a higher one`, field: 'value' });
  }
}

export function decideNetwork(command: NetworkCommand, state: NetworkState): NetworkEvent[] {
  switch (command.type) {
    case 'ProposeChange': {
      const { proposalId, change, value, reason, roundId, now } = command.data;
      if (state.proposals.some((proposal) => proposal.proposalId === proposalId)) return [];
      checkProposal(state, change, value);
      return [{ type: NetworkChangeProposed.type, data: { proposalId, change, value, ...(reason ? { reason } : {}), roundId, at: now } }];
    }
    case 'RecordOutcome': {
      const { proposalId, roundId, outcome, tally, now } = command.data;
      const proposal = state.proposals.find((candidate) => candidate.proposalId === proposalId);
      if (!proposal) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no proposal ${proposalId}`, field: 'proposalId' });
      // Decided once; only the round that was asked decides it.
      if (proposal.status !== 'proposed' || proposal.roundId !== roundId) return [];
      const decided = { proposalId, change: proposal.change, value: proposal.value, roundId, outcome, tally, at: now };
      // Only an approval applies, and only if it still raises the minimum.
      const applies = outcome === 'approve' && !(state.minAgentVersion && meetsVersion(state.minAgentVersion, proposal.value));
      return [{ type: applies ? NetworkChangeApproved.type : NetworkChangeRejected.type, data: decided }];
    }
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}

export function evolveNetwork(state: NetworkState, event: NetworkEvent): NetworkState {
  switch (event.type) {
    case NetworkChangeProposed.type: {
      const { proposalId, change, value, reason, roundId, at } = event.data;
      return { ...state, proposals: [...state.proposals, { proposalId, change, value, ...(reason ? { reason } : {}), roundId, status: 'proposed', proposedAt: at }] };
    }
    case NetworkChangeApproved.type:
    case NetworkChangeRejected.type: {
      const approved = event.type === NetworkChangeApproved.type;
      const { proposalId, outcome, at, value } = event.data;
      return {
        ...state,
        ...(approved ? { minAgentVersion: value } : {}),
        proposals: state.proposals.map((proposal) =>
          proposal.proposalId === proposalId ? { ...proposal, status: approved ? 'approved' : 'rejected', outcome, decidedAt: at } : proposal,
        ),
      };
    }
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

export const networkDecider: Decider<NetworkCommand, NetworkEvent, NetworkState> = {
  decide: decideNetwork,
  evolve: evolveNetwork,
  initialState: initialNetworkState,
};

/** Why an agent may not join a network with this minimum, or undefined when it may. */
export function tooOld(agentVersion: string, minimum: string | undefined): string | undefined {
  if (!minimum || meetsVersion(agentVersion, minimum)) return undefined;
  return `agent ${agentVersion} is older than this grid's minimum agent version ${minimum}: upgrade the agent, then join again`;
}
