import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsISO8601, IsNumber, IsOptional, IsString, Length, Matches, Max, Min, ValidateNested } from 'class-validator';

/** The tiers a node can hold (see the seeds' Node Hierarchy). */
export const NODE_TIERS = ['sclerotia', 'rhizomorph', 'hyphae'] as const;
export type NodeTierName = (typeof NODE_TIERS)[number];

/** Where a node is in its life, as the spores service sees it. */
export const NODE_STATUSES = ['alive', 'late', 'suspected', 'down', 'left'] as const;
export type NodeStatusName = (typeof NODE_STATUSES)[number];

export const NODE_ID = /^[0-9a-f]{20}$/;

/** What a node offers the grid. */
export class NodeCapabilitiesV1 {
  @IsInt()
  @Min(0)
  @Max(4096)
  cpuCores!: number;

  @IsInt()
  @Min(0)
  memoryMiB!: number;

  @IsInt()
  @Min(0)
  diskGiB!: number;

  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'region must be lower-case letters, digits and dashes' })
  region!: string;

  @IsArray()
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @Length(1, 64, { each: true })
  tags!: string[];

  @IsString()
  @Length(1, 40)
  agentVersion!: string;
}

/** What a node has free right now (reported in heartbeats). */
export class NodeUsageV1 {
  @IsNumber()
  @Min(0)
  cpuFree!: number;

  @IsInt()
  @Min(0)
  memoryFreeMiB!: number;

  @IsInt()
  @Min(0)
  diskFreeGiB!: number;
}

export class TierChangeV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsIn(NODE_TIERS)
  from!: NodeTierName;

  @IsIn(NODE_TIERS)
  to!: NodeTierName;

  /** The rule that moved the node, in words. */
  @IsString()
  @Length(1, 500)
  reason!: string;

  @IsISO8601()
  at!: string;
}

