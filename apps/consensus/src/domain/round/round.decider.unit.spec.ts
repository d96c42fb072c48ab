import { randomBytes } from 'node:crypto';
import { CommandRejection, commitmentOf, RoundClosed, type RoundClosedV1 } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import { decideTrust, evolveTrust, TRUST_DELTAS, type TrustState } from '../trust/trust.js';
import { decideRound, type RoundCommand } from './round.decider.js';
import { trustAdjustments } from './round-trust.js';
import { evolveRound, type Round, type RoundState } from './round.js';

const ROUND = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const node = (n: number) => n.toString(16).padStart(20, '0');
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
/** Commit phase 0–1000 ms, reveal phase 1000–2000 ms. */
const COMMITTING = 500;
const REVEALING = 1500;
const AFTER = 2500;

const open = (weights: number[], overrides: Partial<Extract<RoundCommand, { type: 'OpenRound' }>['data']> = {}): RoundCommand => ({
  type: 'OpenRound',
  data: {
    roundId: ROUND,
    topic: 'network-change',
    question: 'Raise the minimum agent version to 0.2.0?',
    subject: 'min-agent-version-0.2.0',
    options: ['approve', 'reject'],
    participants: weights.map((weight, index) => ({ nodeId: node(index + 1), weight })),
    commitMs: 1000,
    revealMs: 1000,
    quorum: 2 / 3,
    now: at(0),
    ...overrides,
  },
});

/** given(commands).when(command): the events it decides, after folding what the given commands decided. */
function given(...commands: RoundCommand[]) {
  const state = commands.reduce<RoundState>((current, command) => decideRound(command, current).reduce(evolveRound, current), undefined);
  return {
    state,
    when: (command: RoundCommand) => decideRound(command, state),
    closed: () => {
      const events = decideRound({ type: 'CloseRound', data: { now: at(AFTER) } }, state);
      expect(events.map((event) => event.type)).toEqual([RoundClosed.type]);
      return { closed: events[0]!.data as RoundClosedV1, round: evolveRound(state, events[0]!) as Round };
    },
  };
}

const salted = () => randomBytes(16).toString('hex');
/** An honest participant's commit and reveal. */
const votes = (n: number, vote: string, salt = salted()): RoundCommand[] => [
  { type: 'CommitVote', data: { nodeId: node(n), commitment: commitmentOf(vote, salt), now: at(COMMITTING) } },
  { type: 'RevealVote', data: { nodeId: node(n), vote, salt, now: at(REVEALING) } },
];
const commits = (n: number, commitment: string, ms = COMMITTING): RoundCommand => ({ type: 'CommitVote', data: { nodeId: node(n), commitment, now: at(ms) } });
const reveals = (n: number, vote: string, salt: string, ms = REVEALING): RoundCommand => ({ type: 'RevealVote', data: { nodeId: node(n), vote, salt, now: at(ms) } });

const rejection = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof CommandRejection) return { code: error.code, field: error.field };
    throw error;
  }
  throw new Error('expected a rejection');
};

describe('round decider', () => {
  describe('when a round opens', () => {
    it('sets the deadlines from the windows', () => {
      const [event] = given().when(open([0.5, 0.5]));
      expect(event!.data).toMatchObject({ commitDeadline: at(1000), revealDeadline: at(2000), quorum: 2 / 3 });
    });

    it('refuses a round without participants, naming the field', () => {
      expect(rejection(() => given().when(open([])))).toEqual({ code: 'NO_PARTICIPANTS', field: 'participants' });
    });

    it('refuses options with a colon, which would make commitments ambiguous', () => {
      expect(rejection(() => given().when(open([0.5], { options: ['a:b', 'a'] })))).toEqual({ code: 'VALIDATION_FAILED', field: 'options' });
    });

    it('refuses a node-liveness round whose options are not up and down', () => {
      expect(rejection(() => given().when(open([0.5], { topic: 'node-liveness', options: ['alive', 'dead'] })))).toEqual({ code: 'VALIDATION_FAILED', field: 'options' });
    });
  });

  describe('when the honest majority votes', () => {
    it('decides for the option with the most weight when it reaches the quorum', () => {
      const { closed } = given(open([0.5, 0.5, 0.5, 0.5]), ...votes(1, 'approve'), ...votes(2, 'approve'), ...votes(3, 'approve'), ...votes(4, 'reject')).closed();
      expect(closed).toMatchObject({ outcome: 'approve', tally: { approve: 1.5, reject: 0.5 }, totalWeight: 2, participants: 4, offenders: [] });
    });

    it('weighs votes by trust, not by head count', () => {
      const { closed } = given(open([0.9, 0.2, 0.2]), ...votes(1, 'reject'), ...votes(2, 'approve'), ...votes(3, 'approve')).closed();
      expect(closed.outcome).toBe('reject');
    });
  });

  describe('when the quorum is not reached', () => {
    it('is inconclusive rather than a narrow majority', () => {
      const { closed } = given(open([0.5, 0.5, 0.5]), ...votes(1, 'approve'), ...votes(2, 'approve'), ...votes(3, 'reject')).closed();
      // 1.0 of 1.5 is exactly 2/3: enough. Drop one voter to an abstainer and it is not.
      expect(closed.outcome).toBe('approve');
      const short = given(open([0.5, 0.5, 0.5, 0.5]), ...votes(1, 'approve'), ...votes(2, 'approve'), ...votes(3, 'reject')).closed();
      expect(short.closed).toMatchObject({ outcome: 'inconclusive', tally: { approve: 1, reject: 0.5 }, totalWeight: 2, offenders: [] });
    });

    it('is inconclusive on a tie', () => {
      const { closed } = given(open([0.5, 0.5], { quorum: 0.5 }), ...votes(1, 'approve'), ...votes(2, 'reject')).closed();
      expect(closed.outcome).toBe('inconclusive');
    });
  });

  describe('when participants cheat', () => {
    it('does not count a copied commitment, and names the copier, not the original', () => {
      const salt = salted();
      const { closed } = given(
        open([0.5, 0.5, 0.5]),
        commits(1, commitmentOf('approve', salt)),
        commits(2, commitmentOf('approve', salt)),
        reveals(1, 'approve', salt),
        reveals(2, 'approve', salt),
        ...votes(3, 'approve'),
      ).closed();
      expect(closed.offenders).toEqual([{ nodeId: node(2), offence: 'copied-commitment' }]);
      expect(closed.tally.approve).toBe(1);
    });

    it('does not count a reveal that does not match its commitment', () => {
      const salt = salted();
      const events = given(open([0.5, 0.5]), commits(1, commitmentOf('reject', salt))).when(reveals(1, 'approve', salt));
      expect(events[0]!.data).toMatchObject({ nodeId: node(1), vote: 'approve', valid: false, why: 'bad-reveal' });
      const { closed } = given(open([0.5, 0.5]), commits(1, commitmentOf('reject', salt)), reveals(1, 'approve', salt), ...votes(2, 'approve')).closed();
      expect(closed).toMatchObject({ tally: { approve: 0.5, reject: 0 }, offenders: [{ nodeId: node(1), offence: 'bad-reveal' }] });
    });

    it('does not count a reveal after the reveal deadline', () => {
      const salt = salted();
      const { closed } = given(open([0.5, 0.5]), commits(1, commitmentOf('approve', salt)), reveals(1, 'approve', salt, 2100), ...votes(2, 'approve')).closed();
      expect(closed.offenders).toEqual([{ nodeId: node(1), offence: 'late' }]);
      expect(closed.tally.approve).toBe(0.5);
    });

    it('does not count a commitment after the commit deadline, even revealed in time', () => {
      const salt = salted();
      const { state } = given(open([0.5, 0.5]), commits(1, commitmentOf('approve', salt), 1200));
      expect(state!.commits[node(1)]).toEqual({ commitment: commitmentOf('approve', salt), late: true });
      const { closed } = given(open([0.5, 0.5]), commits(1, commitmentOf('approve', salt), 1200), reveals(1, 'approve', salt), ...votes(2, 'approve')).closed();
      expect(closed.offenders).toEqual([{ nodeId: node(1), offence: 'late' }]);
    });

    it('counts a commitment never revealed against its sender; not committing at all is abstaining', () => {
      const { closed } = given(open([0.5, 0.5, 0.5]), commits(1, commitmentOf('approve', salted())), ...votes(2, 'approve')).closed();
      expect(closed.offenders).toEqual([{ nodeId: node(1), offence: 'no-reveal' }]);
      expect(closed).toMatchObject({ outcome: 'inconclusive', tally: { approve: 0.5 }, totalWeight: 1.5 });
    });

    it('refuses a reveal before the commit deadline, which would show the vote too soon', () => {
      const salt = salted();
      expect(rejection(() => given(open([0.5]), commits(1, commitmentOf('approve', salt))).when(reveals(1, 'approve', salt, 900)))).toMatchObject({ code: 'REVEAL_TOO_EARLY' });
    });

    it('refuses a second, different commitment and takes the same one again as a retransmission', () => {
      const first = commitmentOf('approve', salted());
      const state = given(open([0.5]), commits(1, first));
      expect(state.when(commits(1, first))).toEqual([]);
      expect(rejection(() => state.when(commits(1, commitmentOf('reject', salted()))))).toMatchObject({ code: 'ALREADY_COMMITTED' });
    });

    it('refuses votes from nodes that were not invited', () => {
      expect(rejection(() => given(open([0.5])).when(commits(9, commitmentOf('approve', salted()))))).toEqual({ code: 'NOT_INVITED', field: 'nodeId' });
    });
  });

  describe('when the round is due', () => {
    it('does not close before the reveal deadline while someone has not revealed', () => {
      expect(given(open([0.5, 0.5]), ...votes(1, 'approve')).when({ type: 'CloseRound', data: { now: at(REVEALING) } })).toEqual([]);
    });

    it('closes as soon as every participant revealed', () => {
      const events = given(open([0.5, 0.5]), ...votes(1, 'approve'), ...votes(2, 'approve')).when({ type: 'CloseRound', data: { now: at(REVEALING) } });
      expect(events.map((event) => event.type)).toEqual([RoundClosed.type]);
    });

    it('closes once, and takes no votes after', () => {
      const { round } = given(open([0.5]), ...votes(1, 'approve')).closed();
      expect(decideRound({ type: 'CloseRound', data: { now: at(AFTER) } }, round)).toEqual([]);
      expect(rejection(() => decideRound(reveals(1, 'approve', salted(), AFTER), round))).toMatchObject({ code: 'ROUND_CLOSED' });
    });
  });
});

describe('trust', () => {
  const trustAfter = (start: number | undefined, ...deltas: number[]) =>
    deltas.reduce<TrustState>(
      (state, delta) =>
        decideTrust({ type: 'AdjustTrust', data: { nodeId: node(1), delta, initial: 0.5, reason: 'test', now: at(0) } }, state).reduce(evolveTrust, state),
      { trust: start, changes: 0 },
    ).trust;

  describe('when a conclusive round closes', () => {
    it('rises slowly for the winning side, falls for the losing side, and falls hard for offenders', () => {
      const salt = salted();
      const { round, closed } = given(
        open([0.5, 0.5, 0.5, 0.5, 0.5], { quorum: 0.5 }),
        ...votes(1, 'approve'),
        ...votes(2, 'approve'),
        ...votes(3, 'approve'),
        ...votes(4, 'reject'),
        commits(5, commitmentOf('approve', salt)),
      ).closed();
      expect(closed.outcome).toBe('approve');
      expect(trustAdjustments(round, closed).map(({ nodeId, delta }) => [nodeId, delta])).toEqual([
        [node(1), TRUST_DELTAS.agreed],
        [node(2), TRUST_DELTAS.agreed],
        [node(3), TRUST_DELTAS.agreed],
        [node(4), TRUST_DELTAS.disagreed],
        [node(5), TRUST_DELTAS.offended],
      ]);
      expect([TRUST_DELTAS.agreed, TRUST_DELTAS.disagreed, TRUST_DELTAS.offended]).toEqual([0.02, -0.05, -0.25]);
    });
  });

  describe('when an inconclusive round closes', () => {
    it('moves trust only for offences', () => {
      const { round, closed } = given(open([0.5, 0.5, 0.5]), ...votes(1, 'approve'), ...votes(2, 'reject'), commits(3, commitmentOf('reject', salted()))).closed();
      expect(closed.outcome).toBe('inconclusive');
      expect(trustAdjustments(round, closed)).toEqual([{ nodeId: node(3), delta: -0.25, reason: expect.stringContaining('no-reveal') as string }]);
    });
  });

  describe('when trust moves', () => {
    it('starts from the initial value and keeps four decimals', () => {
      expect(trustAfter(undefined, 0.02, 0.02, 0.02)).toBe(0.56);
    });

    it('stays within 0 and 1', () => {
      expect(trustAfter(0.99, 0.02, 0.02)).toBe(1);
      expect(trustAfter(0.3, -0.25, -0.25)).toBe(0);
    });

    it('records nothing when the score does not move', () => {
      expect(decideTrust({ type: 'AdjustTrust', data: { nodeId: node(1), delta: 0.02, initial: 0.5, reason: 'x', now: at(0) } }, { trust: 1, changes: 3 })).toEqual([]);
    });
  });
});
