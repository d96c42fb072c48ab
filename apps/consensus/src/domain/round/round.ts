import {
  RoundClosed,
  type RoundClosedV1,
  RoundOpened,
  type RoundOpenedV1,
  VoteCommitted,
  type VoteCommittedV1,
  VoteRevealed,
  type VoteRevealedV1,
} from '@mycelium/contracts';

export type RoundEvent =
  | { type: typeof RoundOpened.type; data: RoundOpenedV1 }
  | { type: typeof VoteCommitted.type; data: VoteCommittedV1 }
  | { type: typeof VoteRevealed.type; data: VoteRevealedV1 }
  | { type: typeof RoundClosed.type; data: RoundClosedV1 };

export interface Commit {
  commitment: string;
  late: boolean;
}

export interface Reveal {
  vote: string;
  valid: boolean;
  why?: 'bad-reveal' | 'late';
}

export interface Round {
  roundId: string;
  status: 'open' | 'closed';
  opened: RoundOpenedV1;
  weights: Record<string, number>;
  /** In the order they arrived: the first of two identical commitments is the original. */
  commits: Record<string, Commit>;
  commitOrder: string[];
  reveals: Record<string, Reveal>;
  closed?: RoundClosedV1;
  /** Stream version, for followers. */
  version: number;
}

export type RoundState = Round | undefined;

export const initialRoundState = (): RoundState => undefined;

export function evolveRound(state: RoundState, event: RoundEvent): RoundState {
  switch (event.type) {
    case RoundOpened.type: {
      const opened = event.data;
      return {
        roundId: opened.roundId,
        status: 'open',
        opened,
        weights: Object.fromEntries(opened.participants.map((participant) => [participant.nodeId, participant.weight])),
        commits: {},
        commitOrder: [],
        reveals: {},
        version: 1,
      };
    }
    case VoteCommitted.type: {
      if (!state) return state;
      const { nodeId, commitment, late } = event.data;
      return {
        ...state,
        commits: { ...state.commits, [nodeId]: { commitment, late: late === true } },
        commitOrder: [...state.commitOrder, nodeId],
        version: state.version + 1,
      };
    }
    case VoteRevealed.type: {
      if (!state) return state;
      const { nodeId, vote, valid, why } = event.data;
      return { ...state, reveals: { ...state.reveals, [nodeId]: { vote, valid, ...(why ? { why } : {}) } }, version: state.version + 1 };
    }
    case RoundClosed.type:
      return state && { ...state, status: 'closed', closed: event.data, version: state.version + 1 };
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}
