import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { defineCommand } from '../registry.js';
import { NODE_STATUSES, type NodeStatusName } from './shared.js';

/** Every node's id, for callers that choose among all of them (a consensus committee). */
export class ListNodeIdsV1 {
  @IsOptional()
  @IsIn(NODE_STATUSES)
  status?: NodeStatusName;

  /** Also each listed node's public key, for a caller that checks what those nodes sign. */
  @IsOptional()
  @IsBoolean()
  withKeys?: boolean;
}

export interface NodeIdsV1 {
  nodeIds: string[];
  /** By node id, when `withKeys` was asked. */
  publicKeys?: Record<string, string>;
}

export const ListNodeIds = defineCommand<ListNodeIdsV1, NodeIdsV1>({
  service: 'spores',
  name: 'nodes.ids',
  payload: ListNodeIdsV1,
  description:
    'The ids of every node, or of those with `status`, in no particular order (with `withKeys`, their public keys too): for choosing among all of them, where nodes.query returns whole views, at most 10,000.',
});
