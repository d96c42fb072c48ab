import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsNumber, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { defineCommand } from '../registry.js';
import { NODE_ID } from '../spores/shared.js';

/** What a round decides; each topic has its own options and its own rules for who may take part. */
export const ROUND_TOPICS = ['node-liveness', 'network-change'] as const;
export type RoundTopic = (typeof ROUND_TOPICS)[number];

/** The options of a node-liveness round: what the participants found when they probed the subject. */
export const LIVENESS_OPTIONS = ['up', 'down'] as const;

export class OpenRoundV1 {
  @IsIn(ROUND_TOPICS)
  topic!: RoundTopic;

  /** What is asked, in words (shown to operators and participants). */
  @IsString()
  @Length(1, 500)
  question!: string;

  /** What the round is about: the suspected node's id for node-liveness, a change id otherwise. */
  @IsString()
  @Length(1, 200)
  subject!: string;

  /** The answers a participant may give; node-liveness: ["up", "down"]. */
  @IsArray()
  @ArrayMinSize(2)
  @ArrayMaxSize(16)
  @IsString({ each: true })
  @Length(1, 40, { each: true })
  options!: string[];

  /** Nodes invited; default: every alive node trusted enough, except the subject. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @Matches(NODE_ID, { each: true })
  participants?: string[];

  @IsInt()
  @Min(100)
  @Max(600_000)
  commitMs!: number;

  @IsInt()
  @Min(100)
  @Max(600_000)
  revealMs!: number;

  /** Share of the participants' trust weight the winning option needs; default 2/3. */
  @IsOptional()
  @IsNumber()
  @Min(0.5)
  @Max(1)
  quorum?: number;

  /** Who asks (e.g. the incident id), for the record. */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  requestedBy?: string;
}

export interface OpenedRound {
  roundId: string;
  participants: { nodeId: string; weight: number }[];
  commitDeadline: string;
  revealDeadline: string;
}

export const OpenRound = defineCommand<OpenRoundV1, OpenedRound>({
  service: 'consensus',
  name: 'round.open',
  payload: OpenRoundV1,
  description:
    'Opens a commit-reveal round among the participants (trust-weighted); its outcome comes as the round-closed event: the weighted majority if it reaches the quorum, else "inconclusive".',
});
