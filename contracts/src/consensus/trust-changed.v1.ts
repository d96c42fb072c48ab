import { IsISO8601, IsNumber, IsOptional, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from '../spores/shared.js';

/** The trust aggregate's one event (`consensus/trust/<nodeId>`): a node's score moved, and why. */
export class TrustChangedV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsNumber()
  @Min(0)
  @Max(1)
  from!: number;

  @IsNumber()
  @Min(0)
  @Max(1)
  to!: number;

  @IsString()
  @Length(1, 500)
  reason!: string;

  /** The round that moved it. */
  @IsOptional()
  @IsUUID()
  roundId?: string;

  @IsISO8601()
  at!: string;
}

export const TrustChanged = defineEvent({
  service: 'consensus',
  aggregate: 'trust',
  name: 'trust-changed',
  version: 1,
  payload: TrustChangedV1,
  description: 'A node’s consensus trust moved: up for a vote on the winning side, down against it, slashed for an offence.',
});
