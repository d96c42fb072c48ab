import { IsBoolean, IsOptional, Matches } from 'class-validator';
import { defineCommand } from '../registry.js';
import type { NodeView } from './query-nodes.command.js';
import { NODE_ID } from './shared.js';

export class GetNodeV1 {
  @Matches(NODE_ID, { message: 'nodeId must be 20 hex characters' })
  nodeId!: string;

  /** Also return the node's events, oldest first. */
  @IsOptional()
  @IsBoolean()
  history?: boolean;
}

export interface NodeHistoryEntry {
  type: string;
  at: string;
  position: string;
  data: Record<string, unknown>;
}

export const GetNode = defineCommand<GetNodeV1, { node: NodeView; history?: NodeHistoryEntry[] }>({
  service: 'spores',
  name: 'nodes.get',
  payload: GetNodeV1,
  description: 'One node, and with `history: true` its events. Answers NOT_FOUND for a node the grid never saw.',
});
