import { randomUUID } from 'node:crypto';
import { GetNode, OpenRound, RoundClosed, RoundOpened, TrustChanged } from '@mycelium/contracts';
import { waitFor } from '@mycelium/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConsensusFixture, openConsensusFixture } from './consensus.fixture.js';

describe('consensus rounds', () => {
  let grid: ConsensusFixture;

  beforeEach(async () => {
    grid = await openConsensusFixture();
    await grid.startConsensus();
  });
  afterEach(async () => {
    await grid?.dispose();
  });

  const closedEvents = async (roundId: string) => (await grid.db.store.readStream(`consensus/round/${roundId}`)).filter((event) => event.type === RoundClosed.type);

  it('decides for the honest majority, raises its trust, and tells the spores service', async () => {
    const voters = await grid.voters(4);
    const opened = await grid.open({ participants: voters.map((voter) => voter.nodeId) });
    expect(opened.participants.map((participant) => participant.weight)).toEqual([0.5, 0.5, 0.5, 0.5]);
    await waitFor(() => grid.invitations.filter((entry) => entry.invitation.roundId === opened.roundId).length === 4, { what: 'four invitations' });

    // A commitment signed with another key is dropped, not held against the node it names.
    voters[0]!.commit(opened.roundId, 'reject', { forged: true });
    const salts = voters.map((voter, index) => voter.commit(opened.roundId, index < 3 ? 'approve' : 'reject'));
    await grid.committed(opened.roundId, voters.map((voter) => voter.nodeId));
    await grid.commitPhaseOver(opened);
    voters.forEach((voter, index) => voter.reveal(opened.roundId, index < 3 ? 'approve' : 'reject', salts[index]!));

    const round = await grid.closed(opened.roundId);
    expect(round).toMatchObject({ outcome: 'approve', tally: { approve: 1.5, reject: 0.5 }, offenders: [] });
    expect((await grid.trust(voters[0]!.nodeId)).trust).toBe(0.52);
    expect((await grid.trust(voters[3]!.nodeId)).trust).toBe(0.45);
    await waitFor(async () => (await grid.sporesTrust(voters[3]!.nodeId)) === 0.45, { what: 'the spores registry to hear the new trust' });
    expect(await grid.sporesTrust(voters[0]!.nodeId)).toBe(0.52);
  });

  it('stays right with under a third of the weight lying, copying or not revealing, and slashes them', async () => {
    const voters = await grid.voters(10);
    const [liar, copier, silent] = voters.slice(7);
    const honest = voters.slice(0, 7);
    const opened = await grid.open({ participants: voters.map((voter) => voter.nodeId) });

    const salts = honest.map((voter) => voter.commit(opened.roundId, 'approve'));
    const liarSalt = liar!.commit(opened.roundId, 'reject');
    await grid.committed(opened.roundId, [honest[0]!.nodeId]);
    const copied = (await grid.db.store.readStream(`consensus/round/${opened.roundId}`)).find((event) => (event.data as { nodeId?: string }).nodeId === honest[0]!.nodeId)!;
    copier!.commit(opened.roundId, 'approve', { commitment: (copied.data as { commitment: string }).commitment });
    silent!.commit(opened.roundId, 'reject');
    await grid.committed(opened.roundId, voters.map((voter) => voter.nodeId));
    await grid.commitPhaseOver(opened);
    honest.forEach((voter, index) => voter.reveal(opened.roundId, 'approve', salts[index]!));
    liar!.reveal(opened.roundId, 'reject', liarSalt);
    // The copier knows the commitment, not the salt behind it.
    copier!.reveal(opened.roundId, 'approve', salts[0]!);

    const round = await grid.closed(opened.roundId);
    expect(round.outcome).toBe('approve');
    expect(round.tally).toEqual({ approve: 3.5, reject: 0.5 });
    expect(round.offenders).toEqual(
      expect.arrayContaining([
        { nodeId: copier!.nodeId, offence: 'copied-commitment' },
        { nodeId: silent!.nodeId, offence: 'no-reveal' },
      ]),
    );
    expect((await grid.trust(liar!.nodeId)).trust).toBe(0.45);
    expect((await grid.trust(copier!.nodeId)).trust).toBe(0.25);
    expect((await grid.trust(silent!.nodeId)).trust).toBe(0.25);
    expect((await grid.trust(honest[0]!.nodeId)).trust).toBe(0.52);
  });

  it('is inconclusive rather than wrong when over a third of the weight lies, and moves no trust', async () => {
    const voters = await grid.voters(7);
    const opened = await grid.open({ participants: voters.map((voter) => voter.nodeId) });
    const vote = (index: number) => (index < 4 ? 'approve' : 'reject');
    const salts = voters.map((voter, index) => voter.commit(opened.roundId, vote(index)));
    await grid.committed(opened.roundId, voters.map((voter) => voter.nodeId));
    await grid.commitPhaseOver(opened);
    voters.forEach((voter, index) => voter.reveal(opened.roundId, vote(index), salts[index]!));

    const round = await grid.closed(opened.roundId);
    expect(round).toMatchObject({ outcome: 'inconclusive', tally: { approve: 2, reject: 1.5 }, offenders: [] });
    expect((await grid.trust(voters[6]!.nodeId)).changes).toBe(0);
    expect((await grid.trust(voters[0]!.nodeId)).trust).toBe(0.5);
  });

  it('closes a round once across a restart of the service mid-round, when the deadline passes', async () => {
    const voters = await grid.voters(3);
    const opened = await grid.open({ participants: voters.map((voter) => voter.nodeId), commitMs: 500, revealMs: 800 });
    const salts = voters.map((voter) => voter.commit(opened.roundId, 'approve'));
    await grid.committed(opened.roundId, voters.map((voter) => voter.nodeId));

    await grid.consensus.stop();
    await grid.startConsensus();
    await grid.commitPhaseOver(opened);
    // Two reveal; the third stays silent, so only the deadline can close the round.
    voters.slice(0, 2).forEach((voter, index) => voter.reveal(opened.roundId, 'approve', salts[index]!));

    const round = await grid.closed(opened.roundId);
    expect(round).toMatchObject({ outcome: 'approve', offenders: [{ nodeId: voters[2]!.nodeId, offence: 'no-reveal' }] });
    expect(Date.parse(round.closedAt!)).toBeGreaterThanOrEqual(Date.parse(opened.revealDeadline));
    expect(await closedEvents(opened.roundId)).toHaveLength(1);
    const slashes = (await grid.db.store.readStream(`consensus/trust/${voters[2]!.nodeId}`)).filter((event) => event.type === TrustChanged.type);
    expect(slashes).toHaveLength(1);
  });

  it('invites alive nodes trusted enough, never the subject, weighted by trust, genesis nodes trusted from the start', async () => {
    const voters = await grid.voters(3);
    // Two offences take a node from 0.5 to 0, below the exclusion threshold.
    for (let round = 0; round < 2; round += 1) {
      const opened = await grid.open({ participants: [voters[0]!.nodeId, voters[1]!.nodeId] });
      voters[1]!.commit(opened.roundId, 'approve');
      await grid.committed(opened.roundId, [voters[1]!.nodeId]);
      await grid.closed(opened.roundId);
    }
    expect(await grid.trust(voters[1]!.nodeId)).toMatchObject({ trust: 0, excluded: true, changes: 2 });

    const opened = await grid.open({ subject: voters[2]!.nodeId });
    expect(opened.participants).toEqual([{ nodeId: voters[0]!.nodeId, weight: 0.5 }]);

    // A genesis node starts trusted.
    await grid.consensus.stop();
    await grid.startConsensus({ genesisNodes: [voters[2]!.nodeId] });
    expect(await grid.trust(voters[2]!.nodeId)).toMatchObject({ trust: 0.9, genesis: true, excluded: false, changes: 0 });
    const withGenesis = await grid.open({ subject: voters[0]!.nodeId });
    expect(withGenesis.participants).toEqual([{ nodeId: voters[2]!.nodeId, weight: 0.9 }]);
  });

  it('asks a committee drawn by trust when more nodes are alive than it has seats, and everyone named', async () => {
    await grid.consensus.stop();
    await grid.startConsensus({ committeeSize: 3 });
    const voters = await grid.voters(6);
    const alive = new Set(voters.map((voter) => voter.nodeId));
    const seated = new Set<string>();
    for (let round = 0; round < 8; round += 1) {
      const opened = await grid.open({ subject: voters[0]!.nodeId });
      expect(opened.participants).toHaveLength(3);
      for (const { nodeId, weight } of opened.participants) {
        expect(alive.has(nodeId) && nodeId !== voters[0]!.nodeId).toBe(true);
        expect(weight).toBe(0.5);
        seated.add(nodeId);
      }
      expect(new Set(opened.participants.map((participant) => participant.nodeId)).size).toBe(3);
      // Only those drawn are invited.
      await waitFor(() => grid.invitations.filter((entry) => entry.invitation.roundId === opened.roundId).length === 3, { what: 'three invitations' });
    }
    // Drawn afresh each round: over eight rounds more than one committee sat (all five others, almost surely).
    expect(seated.size).toBeGreaterThan(3);
    const named = await grid.open({ participants: voters.slice(1).map((voter) => voter.nodeId) });
    expect(named.participants).toHaveLength(5);
  });

  it('checks a drawn committee’s votes with the keys the alive list brought, asking the spores service about no member', async () => {
    const voters = await grid.voters(4);
    // A fresh instance knows no key yet.
    await grid.consensus.stop();
    await grid.startConsensus({ committeeSize: 3 });
    const askedAbout: string[] = [];
    const watch = grid.bus.nc.subscribe(grid.bus.topology.subject(GetNode.subject), {
      callback: (_error, msg) => {
        askedAbout.push(msg.json<{ nodeId: string }>().nodeId);
      },
    });
    try {
      const opened = await grid.open({ subject: voters[0]!.nodeId });
      const seated = voters.filter((voter) => opened.participants.some((participant) => participant.nodeId === voter.nodeId));
      expect(seated).toHaveLength(3);
      const salts = seated.map((voter) => voter.commit(opened.roundId, 'approve'));
      await grid.committed(opened.roundId, seated.map((voter) => voter.nodeId));
      await grid.commitPhaseOver(opened);
      seated.forEach((voter, index) => voter.reveal(opened.roundId, 'approve', salts[index]!));
      expect(await grid.closed(opened.roundId)).toMatchObject({ outcome: 'approve', offenders: [] });
      expect(askedAbout.filter((nodeId) => seated.some((voter) => voter.nodeId === nodeId))).toEqual([]);
    } finally {
      watch.unsubscribe();
    }
  });

  it('holds a commitment that arrives before its round is in the log, and records it once the round is', async () => {
    const [voter] = await grid.voters(1);
    const roundId = randomUUID();
    voter!.commit(roundId, 'approve');
    // As when invitations go out while the round's append is still under way.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = Date.now();
    await grid.db.store.append(`consensus/round/${roundId}`, [
      {
        type: RoundOpened.type,
        data: {
          roundId,
          topic: 'network-change',
          question: 'Raise the minimum agent version to 0.2.0?',
          subject: 'min-agent-version-0.2.0',
          options: ['approve', 'reject'],
          participants: [{ nodeId: voter!.nodeId, weight: 0.5 }],
          commitDeadline: new Date(now + 5000).toISOString(),
          revealDeadline: new Date(now + 10_000).toISOString(),
          quorum: 2 / 3,
          at: new Date(now).toISOString(),
        },
      },
    ]);
    await grid.committed(roundId, [voter!.nodeId]);
  });

  it('refuses bad input naming the field, and a round nobody may take part in', async () => {
    const reply = await grid.client.send(OpenRound, { topic: 'network-change', question: 'q', subject: 's', options: ['a'], commitMs: 500, revealMs: 500 });
    expect(reply).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', field: 'options' } });
    const empty = await grid.client.send(OpenRound, { topic: 'network-change', question: 'q', subject: 's', options: ['a', 'b'], commitMs: 500, revealMs: 500, participants: [] });
    expect(empty).toMatchObject({ ok: false, error: { code: 'NO_PARTICIPANTS', field: 'participants' } });
    expect((await grid.db.store.readAll({ streamPrefixes: ['consensus/round/'] })).events).toEqual([]);
  });

  it('tells what a closer that died may not have: recent trust to spores, invitations of rounds still committing', async () => {
    const voters = await grid.voters(2);
    const opened = await grid.open({ participants: voters.map((voter) => voter.nodeId), commitMs: 30_000, revealMs: 1000 });
    await waitFor(() => grid.invitations.filter((entry) => entry.invitation.roundId === opened.roundId).length === 2, { what: 'two invitations' });
    // As a closer leaves it when it dies between its commit and telling the spores service.
    await grid.db.store.append(`consensus/trust/${voters[0]!.nodeId}`, [
      { type: TrustChanged.type, data: { nodeId: voters[0]!.nodeId, from: 0.5, to: 0.25, reason: 'slashed in a round', at: new Date().toISOString() } },
    ]);
    expect(await grid.sporesTrust(voters[0]!.nodeId)).toBe(0.5);

    await grid.consensus.stop();
    await grid.startConsensus();
    await waitFor(async () => (await grid.sporesTrust(voters[0]!.nodeId)) === 0.25, { what: 'the spores registry to hear the trust' });
    await waitFor(() => grid.invitations.filter((entry) => entry.invitation.roundId === opened.roundId).length === 4, { what: 'the invitations again' });
  });
});
