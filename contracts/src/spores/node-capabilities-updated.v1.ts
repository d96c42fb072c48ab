import { Type } from 'class-transformer';
import { IsISO8601, IsOptional, IsString, Length, Matches, ValidateNested } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID, NodeCapabilitiesV1 } from './shared.js';

export class NodeCapabilitiesUpdatedV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @ValidateNested()
  @Type(() => NodeCapabilitiesV1)
  capabilities!: NodeCapabilitiesV1;

  @IsOptional()
  @IsString()
  @Length(1, 200)
  gossipAddress?: string;

  @IsISO8601()
  at!: string;

  /** When the node signed the message that caused this: an older one is a replay. */
  @IsOptional()
  @IsISO8601()
  signedAt?: string;
}

export const NodeCapabilitiesUpdated = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-capabilities-updated',
  version: 1,
  payload: NodeCapabilitiesUpdatedV1,
  description: 'A node came back with different capabilities (resources, region, tags, agent version).',
});
