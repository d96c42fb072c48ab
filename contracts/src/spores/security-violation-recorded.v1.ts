import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Min } from 'class-validator';
import { defineEvent } from '../registry.js';

/** Why a node's message was refused. */
export const SECURITY_VIOLATIONS = [
  'MALFORMED',
  'BAD_SIGNATURE',
  'FORGED_TOKEN',
  'EXPIRED_TOKEN',
  'WRONG_NETWORK',
  'STALE_TIMESTAMP',
  'REPLAY',
  'NODE_ID_MISMATCH',
  'UNKNOWN_NODE',
] as const;
export type SecurityViolationCode = (typeof SECURITY_VIOLATIONS)[number];

export class SecurityViolationRecordedV1 {
  /** The node the message claimed to come from (unverified). */
  @IsOptional()
  @IsString()
  @Length(1, 100)
  claimedNodeId?: string;

  /** The NATS subject the message came on. */
  @IsString()
  @Length(1, 300)
  subject!: string;

  @IsIn(SECURITY_VIOLATIONS)
  code!: SecurityViolationCode;

  @IsString()
  @Length(1, 500)
  reason!: string;

  /** Refusals of the same kind from the same sender not recorded one by one since the last record. */
  @IsInt()
  @Min(0)
  suppressed!: number;

  @IsISO8601()
  at!: string;
}

export const SecurityViolationRecorded = defineEvent({
  service: 'spores',
  aggregate: 'security',
  name: 'security-violation-recorded',
  version: 1,
  payload: SecurityViolationRecordedV1,
  description:
    'A message claiming to come from a node was refused: bad signature, replay, stale timestamp, forged, expired or foreign token. Recorded at most once a minute per sender and kind.',
});
