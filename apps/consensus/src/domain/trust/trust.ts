import { TrustChanged, type TrustChangedV1 } from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';

/** How trust moves (docs/adr/0017): slowly up, faster down, hard down for an offence. */
export const TRUST_DELTAS = {
  /** A counted vote for the outcome of a conclusive round. */
  agreed: 0.02,
  /** A counted vote against the outcome of a conclusive round. */
  disagreed: -0.05,
  /** No reveal, a bad or late reveal, a late or copied commitment: slashing. */
  offended: -0.25,
} as const;

export type TrustEvent = { type: typeof TrustChanged.type; data: TrustChangedV1 };

export interface TrustState {
  /** Undefined until the first change: the node still has its start value. */
  trust: number | undefined;
  changes: number;
}

export type TrustCommand = {
  type: 'AdjustTrust';
  data: {
    nodeId: string;
    delta: number;
    /** Where a node no round has moved yet starts (genesis or new). */
    initial: number;
    reason: string;
    roundId?: string;
    now: string;
  };
};

/** Scores keep four decimals, so +0.02 and −0.05 add up without float dust. */
export const clampTrust = (value: number) => Math.min(1, Math.max(0, Math.round(value * 10_000) / 10_000));

export function decideTrust(command: TrustCommand, state: TrustState): TrustEvent[] {
  const { nodeId, delta, initial, reason, roundId, now } = command.data;
  const from = state.trust ?? initial;
  const to = clampTrust(from + delta);
  if (to === from) return [];
  return [{ type: TrustChanged.type, data: { nodeId, from, to, reason, ...(roundId ? { roundId } : {}), at: now } }];
}

export function evolveTrust(state: TrustState, event: TrustEvent): TrustState {
  switch (event.type) {
    case TrustChanged.type:
      return { trust: event.data.to, changes: state.changes + 1 };
    default: {
      const unknown: never = event.type;
      return unknown;
    }
  }
}

export const trustDecider: Decider<TrustCommand, TrustEvent, TrustState> = {
  decide: decideTrust,
  evolve: evolveTrust,
  initialState: () => ({ trust: undefined, changes: 0 }),
};
