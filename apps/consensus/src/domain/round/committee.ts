import { randomInt } from 'node:crypto';

export interface Candidate {
  nodeId: string;
  weight: number;
}

const SCALE = 2 ** 48;

/** Uniform in (0, 1) from the operating system: who sits on a committee must not be foreseeable. */
export const unpredictable = (): number => (randomInt(SCALE - 1) + 1) / SCALE;

/**
 * A trust-weighted sample of `size` candidates without replacement (Efraimidis–Spirakis): each
 * draws the key ln(u) / weight and the largest keys sit, so a node twice as trusted is about twice
 * as likely to be asked. With no more candidates than seats, everyone sits. Candidates keep their
 * order; one without weight never sits.
 */
export function drawCommittee(candidates: Candidate[], size: number, random: () => number = unpredictable): Candidate[] {
  const eligible = candidates.filter((candidate) => candidate.weight > 0);
  if (eligible.length <= size) return eligible;
  const keyed = eligible.map((candidate, index) => ({ index, key: Math.log(random()) / candidate.weight }));
  keyed.sort((a, b) => b.key - a.key);
  const seated = new Set(keyed.slice(0, size).map((entry) => entry.index));
  return eligible.filter((_, index) => seated.has(index));
}
