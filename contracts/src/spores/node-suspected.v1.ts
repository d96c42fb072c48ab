import { IsISO8601, IsInt, Matches, Min } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from './shared.js';

export class NodeSuspectedV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsInt()
  @Min(1)
  missedHeartbeats!: number;

  @IsISO8601()
  lastHeartbeatAt!: string;

  @IsISO8601()
  at!: string;
}

export const NodeSuspected = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-suspected',
  version: 1,
  payload: NodeSuspectedV1,
  description: 'A node missed three heartbeats in a row: it may be down. Its work stays where it is until it is declared down.',
});
