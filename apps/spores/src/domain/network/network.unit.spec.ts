import { NetworkChangeApproved, NetworkChangeRejected } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import { decideNetwork, evolveNetwork, initialNetworkState, type NetworkCommand, type NetworkState, tooOld } from './network.js';

const at = '2026-12-03T10:00:00.000Z';
const ROUND = '6f1d0c2a-9b3e-4f50-8a1b-2c3d4e5f6a7b';
const propose = (proposalId: string, value: string, roundId = ROUND): NetworkCommand => ({ type: 'ProposeChange', data: { proposalId, change: 'min-agent-version', value, roundId, now: at } });
const outcome = (proposalId: string, result: string, roundId = ROUND): NetworkCommand => ({ type: 'RecordOutcome', data: { proposalId, roundId, outcome: result, tally: { approve: 1, reject: 0 }, now: at } });

/** Runs commands in order, folding what each decided. */
function run(commands: NetworkCommand[], state: NetworkState = initialNetworkState()): NetworkState {
  return commands.reduce((current, command) => decideNetwork(command, current).reduce(evolveNetwork, current), state);
}

describe('the network aggregate', () => {
  it('applies a proposal only when its round approves it', () => {
    const approved = run([propose('prop_00000000000000000001', '0.2.0'), outcome('prop_00000000000000000001', 'approve')]);
    expect(approved.minAgentVersion).toBe('0.2.0');
    expect(approved.proposals[0]).toMatchObject({ status: 'approved', outcome: 'approve', decidedAt: at });
    for (const result of ['reject', 'inconclusive']) {
      const events = decideNetwork(outcome('prop_00000000000000000001', result), run([propose('prop_00000000000000000001', '0.2.0')]));
      expect(events.map((event) => event.type)).toEqual([NetworkChangeRejected.type]);
      expect(events.reduce(evolveNetwork, run([propose('prop_00000000000000000001', '0.2.0')])).minAgentVersion).toBeUndefined();
    }
  });

  it('decides a proposal once, and only by the round it asked', () => {
    const proposed = run([propose('prop_00000000000000000001', '0.2.0')]);
    expect(decideNetwork(outcome('prop_00000000000000000001', 'approve', '7f1d0c2a-9b3e-4f50-8a1b-2c3d4e5f6a7b'), proposed)).toEqual([]);
    const decided = run([outcome('prop_00000000000000000001', 'reject')], proposed);
    expect(decideNetwork(outcome('prop_00000000000000000001', 'approve'), decided)).toEqual([]);
    expect(() => decideNetwork(outcome('prop_00000000000000000009', 'approve'), proposed)).toThrow(/no proposal/);
  });

  it('refuses a minimum that is no raise, and a second proposal while one waits', () => {
    const raised = run([propose('prop_00000000000000000001', '0.2.0'), outcome('prop_00000000000000000001', 'approve')]);
    expect(() => decideNetwork(propose('prop_00000000000000000002', '0.2.0'), raised)).toThrow(expect.objectContaining({ code: 'NOT_A_RAISE', field: 'value' }));
    expect(() => decideNetwork(propose('prop_00000000000000000002', '0.1.5'), raised)).toThrow(expect.objectContaining({ code: 'NOT_A_RAISE' }));
    const waiting = run([propose('prop_00000000000000000002', '0.3.0')], raised);
    expect(() => decideNetwork(propose('prop_00000000000000000003', '0.4.0'), waiting)).toThrow(expect.objectContaining({ code: 'ALREADY_PROPOSED' }));
    // The same proposal again (a retried request) is no new one.
    expect(decideNetwork(propose('prop_00000000000000000002', '0.3.0'), waiting)).toEqual([]);
  });

  it('rejects an approval that no longer raises the minimum', () => {
    // Two proposals decided out of order: the higher one applied first.
    const state: NetworkState = { minAgentVersion: '0.3.0', proposals: [{ proposalId: 'prop_00000000000000000001', change: 'min-agent-version', value: '0.2.0', roundId: ROUND, status: 'proposed', proposedAt: at }] };
    expect(decideNetwork(outcome('prop_00000000000000000001', 'approve'), state).map((event) => event.type)).toEqual([NetworkChangeRejected.type]);
    expect(decideNetwork(outcome('prop_00000000000000000001', 'approve'), { ...state, minAgentVersion: '0.1.0' }).map((event) => event.type)).toEqual([NetworkChangeApproved.type]);
  });

  it('lets an agent join only at or above the minimum, saying what to do', () => {
    expect(tooOld('0.1.0', undefined)).toBeUndefined();
    expect(tooOld('0.2.0', '0.2.0')).toBeUndefined();
    expect(tooOld('0.1.9', '0.2.0')).toMatch(/older than this grid's minimum agent version 0.2.0: upgrade the agent/);
  });
});
