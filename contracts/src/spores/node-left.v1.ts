import { IsISO8601, IsOptional, IsString, Length, Matches } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from './shared.js';

export class NodeLeftV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsString()
  @Length(1, 200)
  reason!: string;

  @IsISO8601()
  at!: string;

  /** When the node signed the message that caused this: an older one is a replay. */
  @IsOptional()
  @IsISO8601()
  signedAt?: string;
}

export const NodeLeft = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-left',
  version: 1,
  payload: NodeLeftV1,
  description: 'A node left the grid on purpose (its agent stopped cleanly).',
});
