import { sealEnvelope } from '@mycelium/identity';
import { afterEach, describe, expect, it } from 'vitest';
import { GossipNode } from './gossip.js';
import { newNodeIdentity } from './node-identity.js';

const NETWORK = 'net-0123456789abcdef';

describe('latent spore (gossip)', () => {
  const running: GossipNode[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((node) => node.stop()));
  });

  const start = async (count: number) => {
    const nodes = Array.from({ length: count }, () => new GossipNode({ identity: newNodeIdentity(), network: NETWORK, fanout: 3 }));
    running.push(...nodes);
    await Promise.all(nodes.map((node) => node.listen()));
    return nodes;
  };

  const record = (node: GossipNode, status = 'alive') => ({
    nodeId: node.nodeId,
    publicKey: node.view().find((entry) => entry.nodeId === node.nodeId)!.publicKey,
    address: node.address,
    status,
    version: 1,
  });

  it('converges: 50 nodes that each know one other all come to know all 50', async () => {
    const nodes = await start(50);
    // A chain: each knows only the next one, as if from a stale seed snapshot.
    nodes.forEach((node, i) => node.learn([record(nodes[(i + 1) % nodes.length]!)], 'seed'));
    let rounds = 0;
    while (!nodes.every((node) => node.view().length === 50)) {
      rounds += 1;
      if (rounds > 30) break;
      await Promise.all(nodes.map((node) => node.round()));
    }
    const sizes = nodes.map((node) => node.view().length);
    expect(Math.min(...sizes)).toBe(50);
    // Epidemic spread: logarithmic in the size, far below one round per node.
    expect(rounds).toBeLessThan(20);
  });

  it('lets the higher authority win where views conflict', async () => {
    const [a, b, c, d] = await start(4);
    // The registry (primary) told a that c is down; c gossips that it is alive, with newer versions.
    a!.learn([record(c!, 'down'), record(b!)], 'primary');
    c!.learn([record(b!)], 'seed');
    d!.learn([record(b!)], 'seed');
    b!.learn([record(a!), record(d!)], 'seed');
    for (let i = 0; i < 6; i += 1) await Promise.all([a!, b!, c!, d!].map((node) => node.round()));
    expect(a!.view().find((entry) => entry.nodeId === c!.nodeId)).toMatchObject({ status: 'down', authority: 'primary' });
    // d only ever heard of c through gossip: for it, c is alive.
    expect(d!.view().find((entry) => entry.nodeId === c!.nodeId)).toMatchObject({ status: 'alive', authority: 'latent' });
  });

  it('drops records that are not signed by the node they describe', async () => {
    const [honest, liar] = await start(2);
    const victim = newNodeIdentity();
    // The liar speaks for a node it does not own: signs its record with its own key.
    const forged = sealEnvelope(newNodeIdentity().signer, { kind: 'self', network: NETWORK, nodeId: victim.nodeId, address: 'http://evil:1', version: Date.now() }, { includeKey: true });
    const digest = sealEnvelope(
      newNodeIdentity().signer,
      { kind: 'gossip', network: NETWORK, from: 'x', ts: Date.now(), nonce: 'n-0123456789', records: [forged] },
      { includeKey: true },
    );
    const response = await fetch(`${honest!.address}/gossip`, { method: 'POST', body: JSON.stringify(digest) });
    expect(response.status).toBe(200);
    expect(honest!.view().map((entry) => entry.nodeId)).not.toContain(victim.nodeId);
    expect(liar).toBeDefined();
  });
});
