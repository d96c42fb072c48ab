import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsNumber, IsOptional, IsString, IsUUID, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID, NODE_TIERS, NodeCapabilitiesV1, type NodeTierName } from './shared.js';

export class NodeJoinedV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  /** Ed25519, raw, base64url: every later message of the node is checked against it. */
  @IsString()
  @Length(43, 43)
  publicKey!: string;

  @IsString()
  network!: string;

  /** The join token it came with. */
  @IsUUID()
  tokenId!: string;

  /** The highest tier the token allows. */
  @IsIn(NODE_TIERS)
  maxTier!: NodeTierName;

  @IsIn(NODE_TIERS)
  requestedTier!: NodeTierName;

  @IsIn(NODE_TIERS)
  tier!: NodeTierName;

  @ValidateNested()
  @Type(() => NodeCapabilitiesV1)
  capabilities!: NodeCapabilitiesV1;

  /** Where its peers reach it for gossip (http://host:port), if it gossips. */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  gossipAddress?: string;

  @IsNumber()
  @Min(0)
  @Max(1)
  trust!: number;

  @IsISO8601()
  at!: string;

  /** When the node signed the message that caused this: an older one is a replay. */
  @IsOptional()
  @IsISO8601()
  signedAt?: string;
}

export const NodeJoined = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-joined',
  version: 1,
  payload: NodeJoinedV1,
  description: 'A node presented a valid join token and a signed identity, and became part of the grid.',
});
