import { IsIn, IsOptional } from 'class-validator';
import { defineCommand } from '../registry.js';
import { NODE_STATUSES, type NodeStatusName } from './shared.js';

/** Every node's id, for callers that choose among all of them (a consensus committee). */
export class ListNodeIdsV1 {
  @IsOptional()
  @IsIn(NODE_STATUSES)
  status?: NodeStatusName;
}

export const ListNodeIds = defineCommand<ListNodeIdsV1, { nodeIds: string[] }>({
  service: 'spores',
  name: 'nodes.ids',
  payload: ListNodeIdsV1,
  description: 'The ids of every node, or of those with `status`, in no particular order: for choosing among all of them, where nodes.query returns whole views, at most 10,000.',
});
