import { IsISO8601, Matches } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from './shared.js';

export class NodeHeartbeatMissedV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsISO8601()
  lastHeartbeatAt!: string;

  @IsISO8601()
  at!: string;
}

export const NodeHeartbeatMissed = defineEvent({
  service: 'spores',
  aggregate: 'node',
  name: 'node-heartbeat-missed',
  version: 1,
  payload: NodeHeartbeatMissedV1,
  description: 'A node’s heartbeat did not arrive in time: it is late, not yet suspected.',
});
