import { IsBoolean, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { defineCommand } from '../registry.js';
import type { NodeView } from './query-nodes.command.js';
import { NODE_ID } from './shared.js';

/** How many of a node's newest events `history: true` returns when `historyLimit` is not given. */
export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;

export class GetNodeV1 {
  @Matches(NODE_ID, { message: 'nodeId must be 20 hex characters' })
  nodeId!: string;

  /** Also return the node's newest events, oldest first. */
  @IsOptional()
  @IsBoolean()
  history?: boolean;

  /** With `history`: how many of the newest events (default 100); fewer when they would not fit in one reply. */
  @IsOptional()
  @IsInt({ message: 'historyLimit must be a whole number' })
  @Min(1)
  @Max(MAX_HISTORY_LIMIT)
  historyLimit?: number;
}

export interface NodeHistoryEntry {
  type: string;
  at: string;
  position: string;
  data: Record<string, unknown>;
}

export interface NodeDetail {
  node: NodeView;
  /** With `history: true`: the newest events, oldest first. */
  history?: NodeHistoryEntry[];
  /** With `history: true`: how many events the node has in all. */
  historyTotal?: number;
  /** With `history: true`: older events were left out (`historyTotal` > `history.length`). */
  historyTruncated?: boolean;
}

export const GetNode = defineCommand<GetNodeV1, NodeDetail>({
  service: 'spores',
  name: 'nodes.get',
  payload: GetNodeV1,
  description:
    'One node, and with `history: true` its newest events (`historyLimit`, default 100, at most 1000), saying how many it has in all (`historyTotal`, `historyTruncated`). Answers NOT_FOUND for a node the grid never saw.',
});
