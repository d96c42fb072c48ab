import {
  CommandRejection,
  commitmentOf,
  ErrorCodes,
  INCONCLUSIVE,
  LIVENESS_OPTIONS,
  RoundClosed,
  type RoundClosedV1,
  RoundOpened,
  type RoundOffence,
  type RoundTopic,
  VoteCommitted,
  VoteRevealed,
} from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';
import { evolveRound, initialRoundState, type Round, type RoundEvent, type RoundState } from './round.js';

export type RoundCommand =
  | {
      type: 'OpenRound';
      data: {
        roundId: string;
        topic: RoundTopic;
        question: string;
        subject: string;
        options: string[];
        participants: { nodeId: string; weight: number }[];
        commitMs: number;
        revealMs: number;
        quorum: number;
        requestedBy?: string;
        suspectAddress?: string;
        now: string;
      };
    }
  | { type: 'CommitVote'; data: { nodeId: string; commitment: string; now: string } }
  | { type: 'RevealVote'; data: { nodeId: string; vote: string; salt: string; now: string } }
  | { type: 'CloseRound'; data: { now: string } };

/** Domain refusals, beside the shared codes. */
export const RoundErrors = {
  NoParticipants: 'NO_PARTICIPANTS',
  RoundClosed: 'ROUND_CLOSED',
  NotInvited: 'NOT_INVITED',
  AlreadyCommitted: 'ALREADY_COMMITTED',
  NoCommitment: 'NO_COMMITMENT',
  RevealTooEarly: 'REVEAL_TOO_EARLY',
} as const;

const refuse = (code: string, message: string, field?: string): never => {
  throw new CommandRejection({ code, message, ...(field ? { field } : {}) });
};

const ms = (iso: string) => Date.parse(iso);

/** Weight sums are floats of a few decimals: compare with room for rounding. */
const EPSILON = 1e-9;
const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

export function decideRound(command: RoundCommand, state: RoundState): RoundEvent[] {
  if (command.type === 'OpenRound') return open(command.data, state);
  if (!state) return refuse(ErrorCodes.NotFound, 'no such round', 'roundId');
  switch (command.type) {
    case 'CommitVote': {
      const { nodeId, commitment, now } = command.data;
      if (state.status === 'closed') return refuse(RoundErrors.RoundClosed, `round ${state.roundId} is closed`);
      if (state.weights[nodeId] === undefined) return refuse(RoundErrors.NotInvited, `node ${nodeId} is not a participant of round ${state.roundId}`, 'nodeId');
      const existing = state.commits[nodeId];
      // The same commitment again is a retransmission; another one would let a node change its vote.
      if (existing) return existing.commitment === commitment ? [] : refuse(RoundErrors.AlreadyCommitted, `node ${nodeId} has committed already`, 'commitment');
      const late = ms(now) > ms(state.opened.commitDeadline);
      return [{ type: VoteCommitted.type, data: { roundId: state.roundId, nodeId, commitment, ...(late ? { late: true } : {}), at: now } }];
    }
    case 'RevealVote': {
      const { nodeId, vote, salt, now } = command.data;
      if (state.status === 'closed') return refuse(RoundErrors.RoundClosed, `round ${state.roundId} is closed`);
      if (state.weights[nodeId] === undefined) return refuse(RoundErrors.NotInvited, `node ${nodeId} is not a participant of round ${state.roundId}`, 'nodeId');
      const commit = state.commits[nodeId];
      if (!commit) return refuse(RoundErrors.NoCommitment, `node ${nodeId} committed nothing in round ${state.roundId}`, 'roundId');
      if (state.reveals[nodeId]) return [];
      // Before the commit deadline a reveal would show the vote to whoever has not committed yet.
      if (ms(now) <= ms(state.opened.commitDeadline)) {
        return refuse(RoundErrors.RevealTooEarly, `round ${state.roundId} takes reveals after ${state.opened.commitDeadline}`, 'roundId');
      }
      const matches = commitmentOf(vote, salt) === commit.commitment && state.opened.options.includes(vote);
      const why = !matches ? 'bad-reveal' : commit.late || ms(now) > ms(state.opened.revealDeadline) ? 'late' : undefined;
      return [{ type: VoteRevealed.type, data: { roundId: state.roundId, nodeId, vote, valid: why === undefined, ...(why ? { why } : {}), at: now } }];
    }
    case 'CloseRound': {
      if (state.status === 'closed') return [];
      const { now } = command.data;
      const allRevealed = Object.keys(state.weights).every((nodeId) => state.reveals[nodeId] !== undefined);
      if (ms(now) < ms(state.opened.revealDeadline) && !allRevealed) return [];
      return [{ type: RoundClosed.type, data: outcomeOf(state, now) }];
    }
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}

function open(data: Extract<RoundCommand, { type: 'OpenRound' }>['data'], state: RoundState): RoundEvent[] {
  if (state) return refuse(ErrorCodes.IllegalState, `round ${data.roundId} exists already`, 'roundId');
  if (new Set(data.options).size !== data.options.length) return refuse(ErrorCodes.ValidationFailed, 'options must be distinct', 'options');
  if (data.options.some((option) => option.includes(':') || option === INCONCLUSIVE)) {
    return refuse(ErrorCodes.ValidationFailed, `an option may not contain ':' nor be "${INCONCLUSIVE}"`, 'options');
  }
  if (data.topic === 'node-liveness' && (data.options.length !== LIVENESS_OPTIONS.length || !LIVENESS_OPTIONS.every((option) => data.options.includes(option)))) {
    return refuse(ErrorCodes.ValidationFailed, 'a node-liveness round has the options "up" and "down"', 'options');
  }
  if (data.participants.length === 0) return refuse(RoundErrors.NoParticipants, 'no node may take part: none is alive and trusted enough', 'participants');
  const start = ms(data.now);
  const commitDeadline = new Date(start + data.commitMs).toISOString();
  const revealDeadline = new Date(start + data.commitMs + data.revealMs).toISOString();
  return [
    {
      type: RoundOpened.type,
      data: {
        roundId: data.roundId,
        topic: data.topic,
        question: data.question,
        subject: data.subject,
        options: data.options,
        participants: data.participants,
        commitDeadline,
        revealDeadline,
        quorum: data.quorum,
        ...(data.requestedBy ? { requestedBy: data.requestedBy } : {}),
        ...(data.suspectAddress ? { suspectAddress: data.suspectAddress } : {}),
        at: data.now,
      },
    },
  ];
}

/**
 * What a participant did, as the close judges it. Not committing at all is abstaining: no offence
 * (an agent abstains on topics it has no rule for), but its weight still counts in the total.
 */
export type Participation = { kind: 'abstained' } | { kind: 'offended'; offence: RoundOffence } | { kind: 'voted'; vote: string };

export function participationOf(round: Round, nodeId: string): Participation {
  const commit = round.commits[nodeId];
  if (!commit) return { kind: 'abstained' };
  if (commit.late) return { kind: 'offended', offence: 'late' };
  const original = round.commitOrder.find((other) => round.commits[other]!.commitment === commit.commitment);
  if (original !== nodeId) return { kind: 'offended', offence: 'copied-commitment' };
  const reveal = round.reveals[nodeId];
  if (!reveal) return { kind: 'offended', offence: 'no-reveal' };
  if (!reveal.valid) return { kind: 'offended', offence: reveal.why ?? 'bad-reveal' };
  return { kind: 'voted', vote: reveal.vote };
}

function outcomeOf(round: Round, now: string): RoundClosedV1 {
  const { opened } = round;
  const tally: Record<string, number> = Object.fromEntries(opened.options.map((option) => [option, 0]));
  const offenders: RoundClosedV1['offenders'] = [];
  let totalWeight = 0;
  for (const { nodeId, weight } of opened.participants) {
    totalWeight += weight;
    const participation = participationOf(round, nodeId);
    if (participation.kind === 'offended') offenders.push({ nodeId, offence: participation.offence });
    else if (participation.kind === 'voted') tally[participation.vote] = (tally[participation.vote] ?? 0) + weight;
  }
  for (const option of opened.options) tally[option] = round4(tally[option]!);
  totalWeight = round4(totalWeight);
  const best = Math.max(...Object.values(tally));
  const leaders = opened.options.filter((option) => tally[option] === best);
  // A tie has no majority; nor has a leader short of the quorum.
  const outcome = leaders.length === 1 && best > 0 && best + EPSILON >= opened.quorum * totalWeight ? leaders[0]! : INCONCLUSIVE;
  return {
    roundId: round.roundId,
    topic: opened.topic,
    subject: opened.subject,
    question: opened.question,
    outcome,
    tally,
    totalWeight,
    quorum: opened.quorum,
    participants: opened.participants.length,
    offenders,
    at: now,
    ...(opened.requestedBy ? { requestedBy: opened.requestedBy } : {}),
  };
}

export const roundDecider: Decider<RoundCommand, RoundEvent, RoundState> = {
  decide: decideRound,
  evolve: evolveRound,
  initialState: initialRoundState,
};
