import { INCONCLUSIVE, type RoundClosedV1 } from '@mycelium/contracts';
import { TRUST_DELTAS } from '../trust/trust.js';
import { participationOf } from './round.decider.js';
import type { Round } from './round.js';

export interface TrustAdjustment {
  nodeId: string;
  delta: number;
  reason: string;
}

/**
 * What a closed round does to its participants' trust. An inconclusive round has no winning side:
 * only offences count. Abstainers are left as they are.
 */
export function trustAdjustments(round: Round, closed: RoundClosedV1): TrustAdjustment[] {
  const adjustments: TrustAdjustment[] = [];
  for (const { nodeId } of round.opened.participants) {
    const participation = participationOf(round, nodeId);
    if (participation.kind === 'offended') {
      adjustments.push({ nodeId, delta: TRUST_DELTAS.offended, reason: `slashed in round ${round.roundId}: ${participation.offence}` });
    } else if (participation.kind === 'voted' && closed.outcome !== INCONCLUSIVE) {
      const agreed = participation.vote === closed.outcome;
      adjustments.push({
        nodeId,
        delta: agreed ? TRUST_DELTAS.agreed : TRUST_DELTAS.disagreed,
        reason: `voted ${participation.vote} in round ${round.roundId}, which decided ${closed.outcome}`,
      });
    }
  }
  return adjustments;
}
