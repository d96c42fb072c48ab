import { IsISO8601, IsNumber, IsString, Length, Matches, Max, Min } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from './shared.js';

export class NodeTrustChangedV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsNumber()
  @Min(0)
  @Max(1)
  from!: number;

  @IsNumber()
  @Min(0)
  @Max(1)
  to!: number;

  @IsString()
  @Length(1, 500)
  reason!: string;

  @IsISO8601()
  at!: string;
}

export const NodeTrustChanged = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-trust-changed',
  version: 1,
  payload: NodeTrustChangedV1,
  description: 'A node’s trust score changed, with the reason.',
});
