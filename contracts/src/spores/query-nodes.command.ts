import { IsIn, IsInt, IsNumber, IsOptional, IsString, Max, Min } from 'class-validator';
import { defineCommand } from '../registry.js';
import { NODE_STATUSES, NODE_TIERS, type NodeStatusName, type NodeTierName } from './shared.js';

/** Filters of the primary spore: every one is optional, all given must hold. */
export class QueryNodesV1 {
  @IsOptional()
  @IsIn(NODE_STATUSES)
  status?: NodeStatusName;

  @IsOptional()
  @IsIn(NODE_TIERS)
  tier?: NodeTierName;

  @IsOptional()
  @IsString()
  region?: string;

  @IsOptional()
  @IsNumber()
  @Min(0)
  minFreeCpu?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  minFreeMemoryMiB?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  minFreeDiskGiB?: number;

  /** Percent of the last 24 hours the node was up. */
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(100)
  minUptime?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  limit?: number;
}

/** A node as the registry shows it. */
export interface NodeView {
  nodeId: string;
  tier: NodeTierName;
  /** For sclerotia: dedicated (always on) or dynamic. */
  sclerotium?: 'dedicated' | 'dynamic';
  status: NodeStatusName;
  region: string;
  tags: string[];
  capabilities: { cpuCores: number; memoryMiB: number; diskGiB: number; agentVersion: string };
  free: { cpuCores: number; memoryMiB: number; diskGiB: number };
  uptime: { last24h: number; last30d: number };
  trust: number;
  joinedAt: string;
  lastSeenAt?: string;
  gossipAddress?: string;
  publicKey: string;
}

export const QueryNodes = defineCommand<QueryNodesV1, { nodes: NodeView[]; total: number }>({
  service: 'spores',
  name: 'nodes.query',
  payload: QueryNodesV1,
  description:
    'The primary spore: nodes matching the filters, most available first (uptime, then free resources). Answers `{ nodes, total }`.',
});
