import { IsISO8601, Matches } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from './shared.js';

export class NodeDeclaredDownV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsISO8601()
  suspectedAt!: string;

  @IsISO8601()
  lastHeartbeatAt!: string;

  @IsISO8601()
  at!: string;
}

export const NodeDeclaredDown = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-declared-down',
  version: 1,
  payload: NodeDeclaredDownV1,
  description: 'A suspected node stayed silent for the grace period: the spores service declares it down.',
});
