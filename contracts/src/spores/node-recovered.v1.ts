import { IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from './shared.js';

export class NodeRecoveredV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsIn(['late', 'suspected', 'down', 'left'])
  from!: 'late' | 'suspected' | 'down' | 'left';

  @IsISO8601()
  at!: string;

  /** When the node signed the message that caused this: an older one is a replay. */
  @IsOptional()
  @IsISO8601()
  signedAt?: string;
}

export const NodeRecovered = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-recovered',
  version: 1,
  payload: NodeRecoveredV1,
  description: 'A late, suspected or down node was heard from again.',
});
