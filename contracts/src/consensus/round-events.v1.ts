import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../registry.js';
import { NODE_ID } from '../spores/shared.js';
import { ROUND_TOPICS, type RoundTopic } from './open-round.command.js';

/**
 * The round aggregate's events (`consensus/round/<roundId>`). A round is opened with its
 * participants and deadlines, collects commitments then reveals, and is closed once with its
 * outcome (docs/adr/0017).
 */

/** Hex SHA-256 of the UTF-8 bytes of `${vote}:${salt}` (see agent-protocol.ts, commitmentOf). */
export const COMMITMENT = /^[0-9a-f]{64}$/;

/** What counts against a participant: its vote, if any, is not counted and its trust is slashed. */
export const ROUND_OFFENCES = ['no-reveal', 'bad-reveal', 'late', 'copied-commitment'] as const;
export type RoundOffence = (typeof ROUND_OFFENCES)[number];

/** The outcome of a round whose leading option did not reach the quorum (or tied). */
export const INCONCLUSIVE = 'inconclusive';

export class RoundParticipantV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  /** The node's trust when the round opened. */
  @IsNumber()
  @Min(0)
  @Max(1)
  weight!: number;
}

export class RoundOpenedV1 {
  @IsUUID()
  roundId!: string;

  @IsIn(ROUND_TOPICS)
  topic!: RoundTopic;

  @IsString()
  @Length(1, 500)
  question!: string;

  @IsString()
  @Length(1, 200)
  subject!: string;

  @IsArray()
  @ArrayMinSize(2)
  @IsString({ each: true })
  options!: string[];

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => RoundParticipantV1)
  participants!: RoundParticipantV1[];

  @IsISO8601()
  commitDeadline!: string;

  @IsISO8601()
  revealDeadline!: string;

  @IsNumber()
  @Min(0.5)
  @Max(1)
  quorum!: number;

  @IsOptional()
  @IsString()
  requestedBy?: string;

  /** node-liveness: where participants probe the suspect (its gossip address when the round opened). */
  @IsOptional()
  @IsString()
  suspectAddress?: string;

  @IsISO8601()
  at!: string;
}

export class VoteCommittedV1 {
  @IsUUID()
  roundId!: string;

  @Matches(NODE_ID)
  nodeId!: string;

  @Matches(COMMITMENT)
  commitment!: string;

  /** Arrived after the commit deadline: an offence, and the vote will not count. */
  @IsOptional()
  @IsBoolean()
  late?: boolean;

  @IsISO8601()
  at!: string;
}

export class VoteRevealedV1 {
  @IsUUID()
  roundId!: string;

  @Matches(NODE_ID)
  nodeId!: string;

  @IsString()
  @Length(1, 40)
  vote!: string;

  /** The vote matches the commitment, is one of the options, and came in time. */
  @IsBoolean()
  valid!: boolean;

  @IsOptional()
  @IsIn(['bad-reveal', 'late'])
  why?: 'bad-reveal' | 'late';

  @IsISO8601()
  at!: string;
}

export class RoundOffenderV1 {
  @Matches(NODE_ID)
  nodeId!: string;

  @IsIn(ROUND_OFFENCES)
  offence!: RoundOffence;
}

export class RoundClosedV1 {
  @IsUUID()
  roundId!: string;

  @IsIn(ROUND_TOPICS)
  topic!: RoundTopic;

  @IsString()
  subject!: string;

  @IsString()
  question!: string;

  /** One of the options, or 'inconclusive'. */
  @IsString()
  @Length(1, 40)
  outcome!: string;

  /** Trust weight of the counted votes, per option (every option, 0 when nobody chose it). */
  @IsObject()
  tally!: Record<string, number>;

  /** Weight of every invited participant: the quorum is a share of this. */
  @IsNumber()
  @Min(0)
  totalWeight!: number;

  @IsNumber()
  @Min(0.5)
  @Max(1)
  quorum!: number;

  /** How many nodes were invited. */
  @IsInt()
  @Min(0)
  participants!: number;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => RoundOffenderV1)
  offenders!: RoundOffenderV1[];

  @IsISO8601()
  at!: string;

  @IsOptional()
  @IsString()
  requestedBy?: string;
}

export const RoundOpened = defineEvent({
  service: 'consensus',
  aggregate: 'round',
  name: 'round-opened',
  version: 1,
  payload: RoundOpenedV1,
  description: 'A commit-reveal round opened: its question, options, invited participants with their trust weights, and deadlines.',
});

export const VoteCommitted = defineEvent({
  service: 'consensus',
  aggregate: 'round',
  name: 'vote-committed',
  version: 1,
  payload: VoteCommittedV1,
  description: 'A participant committed to a vote without showing it: H(vote:salt). `late` when after the commit deadline.',
});

export const VoteRevealed = defineEvent({
  service: 'consensus',
  aggregate: 'round',
  name: 'vote-revealed',
  version: 1,
  payload: VoteRevealedV1,
  description: 'A participant showed its vote and salt; `valid` false (with `why`) when it does not match its commitment or came late.',
});

export const RoundClosed = defineEvent({
  service: 'consensus',
  aggregate: 'round',
  name: 'round-closed',
  version: 1,
  payload: RoundClosedV1,
  description:
    'A round ended: the trust-weighted outcome (the leading option if it reached quorum × total weight, else "inconclusive"), the tally, and the offenders whose votes did not count.',
});
