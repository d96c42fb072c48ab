import { IsUUID } from 'class-validator';
import { defineCommand } from '../registry.js';
import type { RoundTopic } from './open-round.command.js';
import type { RoundOffence } from './round-events.v1.js';

export class GetRoundV1 {
  @IsUUID()
  roundId!: string;
}

/** A round as the log has it: who was asked, who committed and revealed what, and the outcome once closed. */
export interface RoundView {
  roundId: string;
  status: 'open' | 'closed';
  topic: RoundTopic;
  question: string;
  subject: string;
  options: string[];
  participants: {
    nodeId: string;
    weight: number;
    committed: boolean;
    /** Only once revealed. */
    vote?: string;
    valid?: boolean;
  }[];
  commitDeadline: string;
  revealDeadline: string;
  quorum: number;
  requestedBy?: string;
  outcome?: string;
  tally?: Record<string, number>;
  offenders?: { nodeId: string; offence: RoundOffence }[];
  closedAt?: string;
}

export const GetRound = defineCommand<GetRoundV1, RoundView>({
  service: 'consensus',
  name: 'round.get',
  payload: GetRoundV1,
  description: 'One round with its participants, their commitments and reveals, and its outcome once closed; NOT_FOUND otherwise.',
});
