import { AgentSubjects, GetNode } from '@mycelium/contracts';
import { issueJoinToken, newNonce, sealEnvelope } from '@mycelium/identity';
import { joinMessage, leaveMessage, newNodeIdentity, type VirtualNode } from '@mycelium/node-client';
import { waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, DOWN_GRACE_MS, openSporesFixture, type SporesFixture } from '../spores.fixture.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** On `framer`'s own subject, a heartbeat naming `victim`, signed by the framer. */
function frame(grid: SporesFixture, framer: VirtualNode, victim: VirtualNode): void {
  const forged = sealEnvelope(framer.identity.signer, {
    kind: 'heartbeat',
    nodeId: victim.nodeId,
    network: grid.network.info.networkId,
    ts: Date.now(),
    nonce: newNonce(),
    seq: 1,
    usage: { cpuFree: 1, memoryFreeMiB: 1, diskFreeGiB: 1 },
  });
  grid.bus.nc.publish(grid.bus.topology.subject(AgentSubjects.heartbeat(framer.nodeId)), encoder.encode(JSON.stringify(forged)));
}

describe('agent protocol on a secured network: the subject names the sender', () => {
  let grid: SporesFixture;
  beforeAll(async () => {
    grid = await openSporesFixture({}, { secured: true });
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  it('blames the node whose subject a forged heartbeat came on, not the node it names', async () => {
    const [framer, victim] = [grid.node(), grid.node()];
    await framer.join();
    await victim.join();
    frame(grid, framer, victim);
    await waitFor(async () => (await grid.securityEvents(framer.nodeId)).includes('NODE_ID_MISMATCH'), { what: 'the framer’s record' });
    await waitFor(() => framer.notices.some((notice) => notice.code === 'NODE_ID_MISMATCH'), { what: 'the notice to the framer' });
    expect(await grid.securityEvents(victim.nodeId)).toEqual([]);
    expect(victim.notices).toEqual([]);
  });
});


describe('agent protocol on an open network', () => {
  let grid: SporesFixture;
  const subject = (name: string) => grid.bus.topology.subject(name);

  beforeAll(async () => {
    grid = await openSporesFixture();
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  it('blames nobody for a heartbeat that names another node: anyone may publish on any subject', async () => {
    const [framer, victim] = [grid.node(), grid.node()];
    await framer.join();
    await victim.join();
    frame(grid, framer, victim);
    await waitFor(async () => (await grid.securityEvents('unattributed')).includes('NODE_ID_MISMATCH'), { what: 'the unattributed record' });
    expect(await grid.securityEvents(framer.nodeId)).toEqual([]);
    expect(await grid.securityEvents(victim.nodeId)).toEqual([]);
  });

  it('records forged joins under no claimed node, once a minute however many ids they claim', async () => {
    for (let i = 0; i < 20; i += 1) {
      const claimed = newNodeIdentity();
      const message = joinMessage(claimed, { network: grid.network.info.networkId, token: grid.token, requestedTier: 'rhizomorph', capabilities });
      const forged = { ...message, sig: newNodeIdentity().signer.sign(Buffer.from(message.payload, 'base64url')) };
      await expect(grid.link.join(forged)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
      expect(await grid.securityEvents(claimed.nodeId)).toEqual([]);
    }
    expect((await grid.securityEvents('unattributed')).filter((code) => code === 'BAD_SIGNATURE')).toHaveLength(1);
  });

  it('answers only on inbox subjects, never on a subject the sender picks', async () => {
    const planted: string[] = [];
    const target = subject('evt.spores.node.planted');
    const trap = grid.bus.nc.subscribe(target, { callback: (_error, msg) => void planted.push(decoder.decode(msg.data)) });
    grid.bus.nc.publish(subject(AgentSubjects.join), encoder.encode('{"network": "planted text"}'), { reply: target });
    const answered = await grid.bus.nc.request(subject(AgentSubjects.join), encoder.encode('{"network": "planted text"}'), { timeout: 5000 });
    expect(JSON.parse(decoder.decode(answered.data))).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    await grid.bus.nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    trap.unsubscribe();
    expect(planted).toEqual([]);
  });

  it('lets a member rejoin with the token it joined with after that token expired', async () => {
    const member = grid.node();
    await member.join();
    const expired = issueJoinToken(grid.network.signer!, { tier: 'sclerotia', ttlSeconds: 60, now: new Date(Date.now() - 120_000) }).token;
    const restarted = grid.node({ identity: member.identity, token: expired });
    await expect(restarted.join()).resolves.toMatchObject({ nodeId: member.nodeId, status: 'alive' });
    expect(await grid.securityEvents(member.nodeId)).not.toContain('EXPIRED_TOKEN');
  });

  it('refuses a replayed leave even on an instance that never saw it, once the node has joined again', async () => {
    const member = grid.node();
    await member.join();
    const leave = leaveMessage(member.identity, { network: grid.network.info.networkId, reason: 'maintenance' });
    await grid.link.leave(member.nodeId, leave);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await member.join();
    // A fresh instance has an empty nonce memory: only the node's stream knows the leave is old.
    const first = grid.spores;
    await grid.start();
    await first.stop();
    await expect(grid.link.leave(member.nodeId, leave)).rejects.toMatchObject({ code: 'REPLAY' });
    expect((await grid.viewOf(member.nodeId)).status).toBe('alive');
    await waitFor(async () => (await grid.securityEvents(member.nodeId)).includes('REPLAY'), { what: 'the replay on record' });
  });

  it('does not declare down a suspected node that the next leader heard from while it stood by', async () => {
    const member = grid.node();
    await member.join();
    await waitFor(async () => (await grid.viewOf(member.nodeId)).status === 'suspected', { what: 'suspected' });
    // The leader goes; the test holds the lead while the node speaks, so only a standby hears
    // it, and lets go once the grace is over.
    await grid.spores.stop();
    const lease = await waitFor(() => grid.db.store.tryAcquireLease('spores-leader'), { what: 'the lease' });
    await grid.start();
    member.heartbeat();
    await new Promise((resolve) => setTimeout(resolve, DOWN_GRACE_MS * 2));
    await lease.release();
    const afterSuspicion = async () => {
      const reply = await grid.client.send(GetNode, { nodeId: member.nodeId, history: true });
      const types = reply.ok ? reply.result.history!.map((entry) => entry.type.split('.')[2]) : [];
      return types[types.indexOf('node-suspected') + 1];
    };
    expect(await waitFor(afterSuspicion, { what: 'the new leader’s judgement', timeoutMs: 10_000 })).toBe('node-recovered');
  });
});
