import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Min, ValidateBy, ValidateNested } from 'class-validator';
import { NODE_ID, NODE_TIERS, NodeCapabilitiesV1, type NodeTierName, NodeUsageV1 } from './shared.js';

import { isGossipAddress, MAX_GOSSIP_ADDRESS_LENGTH } from './agent-subjects.js';

export { AgentSubjects, type AgentNotice, isGossipAddress, type JoinAccepted, MAX_GOSSIP_ADDRESS_LENGTH, type PeerRecord } from './agent-subjects.js';

/**
 * The node agent's protocol. Every message is a signed envelope (`{ payload, sig, pub? }`, see
 * @mycelium/identity) whose payload is one of these; the spores service checks the signature, the
 * timestamp and the nonce before it looks at anything else.
 *
 *   spores.agent.join          request   JoinRequestV1    (pub: the node's key)
 *   agent.<nodeId>.heartbeat   publish   HeartbeatV1
 *   agent.<nodeId>.leave       request   LeaveRequestV1
 *   agent.<nodeId>.notice      publish   AgentNotice      (from the spores service)
 */

abstract class SignedPayload {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsString()
  network!: string;

  /** Milliseconds since the epoch, by the node's clock. */
  @IsInt()
  ts!: number;

  @IsString()
  @Length(8, 64)
  nonce!: string;
}

export class JoinRequestV1 extends SignedPayload {
  @IsIn(['join'])
  kind!: 'join';

  /** The join token; a node that is already a member may rejoin without one. */
  @IsOptional()
  @IsString()
  @Length(1, 8192)
  token?: string;

  @IsIn(NODE_TIERS)
  requestedTier!: NodeTierName;

  @ValidateNested()
  @Type(() => NodeCapabilitiesV1)
  capabilities!: NodeCapabilitiesV1;

  /** The public key of the node's NATS user, for which the service issues credentials (secured networks). */
  @IsOptional()
  @IsString()
  @Length(56, 56)
  natsKey?: string;

  @IsOptional()
  @ValidateBy({
    name: 'isGossipAddress',
    validator: {
      validate: isGossipAddress,
      defaultMessage: () => `gossipAddress must be an http(s) URL of at most ${MAX_GOSSIP_ADDRESS_LENGTH} characters, without credentials, query or fragment`,
    },
  })
  gossipAddress?: string;
}

export class HeartbeatV1 extends SignedPayload {
  @IsIn(['heartbeat'])
  kind!: 'heartbeat';

  /** Counts up from 1 each time the agent starts. */
  @IsInt()
  @Min(1)
  seq!: number;

  @ValidateNested()
  @Type(() => NodeUsageV1)
  usage!: NodeUsageV1;
}

export class LeaveRequestV1 extends SignedPayload {
  @IsIn(['leave'])
  kind!: 'leave';

  @IsString()
  @Length(1, 200)
  reason!: string;
}

