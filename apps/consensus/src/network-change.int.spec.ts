import { ConsensusSubjects, GetNetwork, type NetworkView, ProposeNetworkChange } from '@mycelium/contracts';
import { networkChangeVote, RoundVoter } from '@mycelium/node-client';
import { waitFor } from '@mycelium/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConsensusFixture, openConsensusFixture, type Voter } from './consensus.fixture.js';

/** A network-wide change, from the proposal through the nodes' round to the joins it refuses. */
describe('network-wide changes', () => {
  let grid: ConsensusFixture;
  const voting: RoundVoter[] = [];

  beforeEach(async () => {
    grid = await openConsensusFixture();
    await grid.startConsensus();
  });
  afterEach(async () => {
    for (const voter of voting.splice(0)) voter.stop();
    await grid?.dispose();
  });

  /** Nodes that vote as agents do: for a minimum they run themselves, against one they do not. */
  const votingNodes = async (count: number, agentVersion: string): Promise<Voter[]> => {
    const nodes = await grid.voters(count, { agentVersion });
    for (const { node, nodeId } of nodes) {
      const voter = new RoundVoter({
        nodeId,
        signer: node.identity.signer,
        publish: (subject, body) => grid.bus.nc.publish(grid.bus.topology.subject(subject), body),
        judge: networkChangeVote(agentVersion),
      });
      voting.push(voter);
      grid.bus.nc.subscribe(grid.bus.topology.subject(ConsensusSubjects.invite(nodeId)), { callback: (_error, msg) => void voter.invited(msg.json()) });
    }
    await grid.bus.nc.flush();
    return nodes;
  };

  const network = async (): Promise<NetworkView> => {
    const reply = await grid.client.send(GetNetwork, {});
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.result;
  };
  const propose = (value: string) => grid.client.send(ProposeNetworkChange, { change: 'min-agent-version', value, commitMs: 600, revealMs: 600 });
  const decided = (proposalId: string) =>
    waitFor(async () => (await network()).proposals.find((proposal) => proposal.proposalId === proposalId && proposal.status !== 'proposed'), { what: `proposal ${proposalId} decided` });

  it('raises the minimum agent version when the nodes approve, then refuses older agents’ joins', async () => {
    await votingNodes(3, '0.3.0');
    const proposed = await propose('0.2.0');
    if (!proposed.ok) throw new Error(proposed.error.message);
    expect(proposed.result.participants).toBe(3);
    expect(await decided(proposed.result.proposalId)).toMatchObject({ status: 'approved', outcome: 'approve', value: '0.2.0' });
    expect((await network()).minAgentVersion).toBe('0.2.0');

    await expect(grid.voters(1, { agentVersion: '0.1.9' })).rejects.toMatchObject({ code: 'AGENT_TOO_OLD', message: expect.stringMatching(/minimum agent version 0\.2\.0: upgrade the agent/) });
    await expect(grid.voters(1, { agentVersion: '0.2.0' })).resolves.toHaveLength(1);
  });

  it('changes nothing when the nodes reject a minimum they do not run, and refuses what is no raise', async () => {
    await votingNodes(3, '0.3.0');
    const first = await propose('0.3.0');
    if (!first.ok) throw new Error(first.error.message);
    await decided(first.result.proposalId);
    const locksOut = await propose('0.4.0');
    if (!locksOut.ok) throw new Error(locksOut.error.message);
    expect(await decided(locksOut.result.proposalId)).toMatchObject({ status: 'rejected', outcome: 'reject' });
    expect((await network()).minAgentVersion).toBe('0.3.0');

    expect(await propose('0.2.0')).toMatchObject({ ok: false, error: { code: 'NOT_A_RAISE', field: 'value' } });
    expect(await propose('soon')).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'value' } });
    expect(await grid.client.send(ProposeNetworkChange, { change: 'max-replicas', value: '1.0.0' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'change' } });
  });
});
