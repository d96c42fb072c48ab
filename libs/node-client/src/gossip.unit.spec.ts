import { generateKeyMaterial, issueMembership, networkIdOf, Signer } from '@mycelium/identity';
import { describe, expect, it } from 'vitest';
import { isGossipAddress } from '@mycelium/contracts/agent';
import { GossipNode } from './gossip.js';
import { newNodeIdentity } from './node-identity.js';

const networkKey = Signer.fromPem(generateKeyMaterial().privateKeyPem);
const network = { id: networkIdOf(networkKey.publicKey), publicKey: networkKey.publicKey };
const peer = (version: number, address?: string) => {
  const { nodeId, publicKey } = newNodeIdentity();
  return { nodeId, publicKey, status: 'alive', version, ...(address ? { address } : {}) };
};

describe('gossip addresses', () => {
  it('are http(s) URLs of at most 200 characters, without credentials, query or fragment', () => {
    for (const good of ['http://127.0.0.1:7946', 'https://node-7.example.org', 'http://[::1]:80/mycelium', `http://${'a'.repeat(188)}:7946`]) expect(isGossipAddress(good)).toBe(true);
    for (const bad of ['ftp://host:1', 'file:///etc/passwd', 'javascript:alert(1)', 'host:1', '', 'http://user:pw@host', 'http://host/?a=1', 'http://host#x', `http://${'a'.repeat(189)}:7946`, 42]) {
      expect(isGossipAddress(bad)).toBe(false);
    }
  });

  it('refuses to advertise one that is not', () => {
    expect(() => new GossipNode({ identity: newNodeIdentity(), network, advertise: 'tcp://10.0.0.1:7946' })).toThrow(/not an http\(s\) URL/);
  });

  it('drops an address no peer could use, whoever vouches for it, but keeps its node', () => {
    const node = new GossipNode({ identity: newNodeIdentity(), network });
    const usable = peer(1, 'http://10.0.0.1:7946');
    const unusable = peer(1, 'gopher://10.0.0.1:7946');
    const none = peer(1);
    node.learn([usable, unusable, none], 'primary');
    const entry = (nodeId: string) => node.view().find((candidate) => candidate.nodeId === nodeId);
    expect(entry(usable.nodeId)).toMatchObject({ address: 'http://10.0.0.1:7946', authority: 'primary' });
    expect(entry(unusable.nodeId)).toMatchObject({ authority: 'primary' });
    expect(entry(unusable.nodeId)).not.toHaveProperty('address');
    expect(entry(none.nodeId)).not.toHaveProperty('address');

    // A usable address from a lower authority still fills the gap.
    node.learn([{ ...unusable, address: 'http://10.0.0.2:7946' }], 'seed');
    expect(entry(unusable.nodeId)).toMatchObject({ address: 'http://10.0.0.2:7946', authority: 'primary' });
  });
});

describe('the view', () => {
  it('keeps at most maxPeers nodes, forgetting the lowest authority, then the longest unchanged whatever its version, never itself', () => {
    const identity = newNodeIdentity();
    // Not listening, so not in its own view: the cap is all others.
    const node = new GossipNode({ identity, network, maxPeers: 4 });
    const registry = [peer(1), peer(2)];
    const seed = [peer(40), peer(30), peer(20), peer(10)];
    node.learn(seed.slice(0, 2), 'seed');
    node.learn(seed.slice(2), 'seed');
    node.learn(registry, 'primary');
    // The two seed records learned last stay, though their versions are the lowest.
    expect(node.view().map((entry) => entry.nodeId).sort()).toEqual([...registry, seed[2]!, seed[3]!].map((entry) => entry.nodeId).sort());
  });
});

describe('certificates', () => {
  it('refuses one that is not the network’s word for this node’s key', () => {
    const identity = newNodeIdentity();
    const node = new GossipNode({ identity, network });
    const other = newNodeIdentity();
    expect(() => node.certify(issueMembership(networkKey, { network: network.id, publicKey: other.publicKey }))).toThrow(expect.objectContaining({ code: 'NODE_ID_MISMATCH' }));
    expect(() => node.certify(issueMembership(identity.signer, { network: network.id, publicKey: identity.publicKey }))).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
    expect(() => new GossipNode({ identity, network, membership: issueMembership(networkKey, { network: 'net-elsewhere', publicKey: identity.publicKey }) })).toThrow(
      expect.objectContaining({ code: 'WRONG_NETWORK' }),
    );
    node.certify(issueMembership(networkKey, { network: network.id, publicKey: identity.publicKey }));
    expect(node.membership).toBeDefined();
  });
});
