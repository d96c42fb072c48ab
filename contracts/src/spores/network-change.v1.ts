import { IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';
import { NETWORK_CHANGES, type NetworkChangeName, VERSION } from '../consensus/agent-protocol.js';
import { defineCommand, defineEvent } from '../registry.js';

/**
 * Network-wide changes: proposed by an operator, decided by a consensus round among the nodes
 * (topic `network-change`), applied by the spores service when the round approves
 * (`spores/network/<networkId>`, docs/adr/0020).
 */

/** Proposal ids: `prop_` and 20 hex characters. */
export const PROPOSAL_ID = /^prop_[0-9a-f]{20}$/;

export class ProposeNetworkChangeV1 {
  @IsIn(NETWORK_CHANGES)
  change!: NetworkChangeName;

  /** For min-agent-version: the lowest agent version that may join from now on, e.g. 0.2.0. */
  @Matches(VERSION, { message: 'value must be a version such as 0.2.0' })
  @Length(5, 64)
  value!: string;

  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;

  /** How long the nodes have to commit, then to reveal (default 2 s each). */
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(600_000)
  commitMs?: number;

  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(600_000)
  revealMs?: number;
}

export interface ProposedNetworkChange {
  proposalId: string;
  roundId: string;
  participants: number;
  revealDeadline: string;
}

export const ProposeNetworkChange = defineCommand<ProposeNetworkChangeV1, ProposedNetworkChange>({
  service: 'spores',
  name: 'network.propose',
  payload: ProposeNetworkChangeV1,
  description:
    'Puts a network-wide change (raising the minimum agent version) to a consensus round among the nodes; it applies only if the round approves it (network-change-approved).',
});

export class GetNetworkV1 {
  /** Only this proposal (a 404 when there is none such). */
  @IsOptional()
  @Matches(PROPOSAL_ID, { message: 'proposalId must be prop_ and 20 hex characters' })
  proposalId?: string;
}

export interface NetworkProposalView {
  proposalId: string;
  change: NetworkChangeName;
  value: string;
  reason?: string;
  roundId: string;
  status: 'proposed' | 'approved' | 'rejected';
  outcome?: string;
  proposedAt: string;
  decidedAt?: string;
}

export interface NetworkView {
  networkId: string;
  minAgentVersion?: string;
  proposals: NetworkProposalView[];
}

export const GetNetwork = defineCommand<GetNetworkV1, NetworkView>({
  service: 'spores',
  name: 'network.get',
  payload: GetNetworkV1,
  description: 'The network-wide settings in force (the minimum agent version) and every proposal with its outcome.',
});

export class NetworkChangeProposedV1 {
  @Matches(PROPOSAL_ID)
  proposalId!: string;

  @IsIn(NETWORK_CHANGES)
  change!: NetworkChangeName;

  @Matches(VERSION)
  value!: string;

  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;

  /** The consensus round that decides it. */
  @IsUUID()
  roundId!: string;

  @IsISO8601()
  at!: string;
}

export const NetworkChangeProposed = defineEvent({
  service: 'spores',
  aggregate: 'network',
  name: 'network-change-proposed',
  version: 1,
  payload: NetworkChangeProposedV1,
  description: 'A network-wide change was put to the nodes in a consensus round.',
});

export class NetworkChangeDecidedV1 {
  @Matches(PROPOSAL_ID)
  proposalId!: string;

  @IsIn(NETWORK_CHANGES)
  change!: NetworkChangeName;

  @Matches(VERSION)
  value!: string;

  @IsUUID()
  roundId!: string;

  /** The round's outcome: approve, reject or inconclusive. */
  @IsString()
  @Length(1, 40)
  outcome!: string;

  /** Trust weight per option. */
  @IsObject()
  tally!: Record<string, number>;

  @IsISO8601()
  at!: string;
}

export const NetworkChangeApproved = defineEvent({
  service: 'spores',
  aggregate: 'network',
  name: 'network-change-approved',
  version: 1,
  payload: NetworkChangeDecidedV1,
  description: 'The nodes approved a network-wide change; it is in force from now on (a higher minimum agent version refuses older agents’ joins).',
});

export const NetworkChangeRejected = defineEvent({
  service: 'spores',
  aggregate: 'network',
  name: 'network-change-rejected',
  version: 1,
  payload: NetworkChangeDecidedV1,
  description: 'A network-wide change was not approved: the nodes rejected it, or their round was inconclusive. Nothing changed.',
});
