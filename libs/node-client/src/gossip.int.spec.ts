import { type AddressInfo, connect as connectTcp, createServer as createTcpServer } from 'node:net';
import {
  generateKeyMaterial,
  issueMembership,
  networkIdOf,
  newNonce,
  peekEnvelope,
  sealEnvelope,
  type SignedEnvelope,
  Signer,
  verifyMembership,
} from '@mycelium/identity';
import { afterEach, describe, expect, it } from 'vitest';
import { GossipExchangeFailed, GossipNode, type GossipOptions, MAX_CLOCK_SKEW_MS, MAX_DIGEST_RECORDS } from './gossip.js';
import { type NodeIdentity, newNodeIdentity } from './node-identity.js';

const networkKey = Signer.fromPem(generateKeyMaterial().privateKeyPem);
const network = { id: networkIdOf(networkKey.publicKey), publicKey: networkKey.publicKey };

/** A node the network admitted: its keys and the certificate its join would have brought. */
const member = () => {
  const identity = newNodeIdentity();
  return { identity, membership: issueMembership(networkKey, { network: network.id, publicKey: identity.publicKey }) };
};

/** A signed self-record as gossip carries it, with whatever certificate the test gives it. */
const recordOf = (signer: NodeIdentity, claims: { nodeId?: string; address?: string; version?: number }, membership?: SignedEnvelope) => ({
  ...sealEnvelope(
    signer.signer,
    { kind: 'self', network: network.id, nodeId: claims.nodeId ?? signer.nodeId, address: claims.address ?? 'http://127.0.0.1:1', version: claims.version ?? Date.now() },
    { includeKey: true },
  ),
  ...(membership ? { membership } : {}),
});

const digestOf = (sender: NodeIdentity, membership: SignedEnvelope | undefined, records: unknown[]) => ({
  ...sealEnvelope(sender.signer, { kind: 'gossip', network: network.id, from: sender.nodeId, ts: Date.now(), nonce: newNonce(), records }, { includeKey: true }),
  ...(membership ? { membership } : {}),
});

const post = (node: GossipNode, body: unknown) => fetch(`${node.address}/gossip`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
const known = (node: GossipNode) => node.view().map((entry) => entry.nodeId);

describe('latent spore (gossip)', () => {
  const running: GossipNode[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((node) => node.stop()));
  });

  const startNode = async (options: Partial<GossipOptions> = {}) => {
    const node = new GossipNode({ ...member(), network, fanout: 3, ...options });
    running.push(node);
    await node.listen();
    return node;
  };
  const start = (count: number) => Promise.all(Array.from({ length: count }, () => startNode()));

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

  it('takes the records of certified members from a certified sender, and drops every other record in the same digest', async () => {
    const honest = await startNode();
    const sender = member();
    const friend = member();
    const victim = member();
    const outsider = newNodeIdentity();
    const records = {
      genuine: recordOf(friend.identity, {}, friend.membership),
      // A member speaks for another node: signs a record about the victim with its own key.
      forged: recordOf(sender.identity, { nodeId: victim.identity.nodeId }, sender.membership),
      // A key the network never admitted, with a certificate it wrote itself, or none.
      selfCertified: recordOf(outsider, {}, issueMembership(outsider.signer, { network: network.id, publicKey: outsider.publicKey })),
      uncertified: recordOf(outsider, {}),
      // A member's certificate beside a stranger's record: it names another key.
      borrowed: recordOf(outsider, {}, friend.membership),
      // A member whose address no peer could use.
      badAddress: recordOf(victim.identity, { address: 'ftp://127.0.0.1:1' }, victim.membership),
      longAddress: recordOf(victim.identity, { address: `http://${'a'.repeat(200)}:1` }, victim.membership),
    };
    const response = await post(honest, digestOf(sender.identity, sender.membership, Object.values(records)));
    expect(response.status).toBe(200);
    // The digest counted (the genuine record is in), so each other record was judged on its own.
    expect(known(honest)).toContain(friend.identity.nodeId);
    expect(known(honest)).not.toContain(victim.identity.nodeId);
    expect(known(honest)).not.toContain(outsider.nodeId);

    // What the honest node passes on carries each signer's certificate.
    const answer = (await response.json()) as { membership: SignedEnvelope; pub: string };
    verifyMembership(answer.membership, network, answer.pub);
    const passedOn = peekEnvelope<{ records: (SignedEnvelope & { membership: SignedEnvelope; pub: string })[] }>(answer).records;
    expect(passedOn.map((entry) => verifyMembership(entry.membership, network, entry.pub).nodeId).sort()).toEqual([honest.nodeId, friend.identity.nodeId].sort());
  });

  it('refuses a digest from a sender the network did not certify, records and all', async () => {
    const honest = await startNode();
    const friend = member();
    const outsider = newNodeIdentity();
    const selfIssued = issueMembership(outsider.signer, { network: network.id, publicKey: outsider.publicKey });
    for (const membership of [selfIssued, undefined, friend.membership]) {
      const response = await post(honest, digestOf(outsider, membership, [recordOf(friend.identity, {}, friend.membership)]));
      expect(response.status).toBe(400);
    }
    expect(known(honest)).toEqual([honest.nodeId]);
  });

  it('refuses a digest of more than 512 records, and a body over 1 MiB', async () => {
    const honest = await startNode();
    const sender = member();
    const friend = member();
    const many = Array.from({ length: MAX_DIGEST_RECORDS + 1 }, () => recordOf(friend.identity, {}, friend.membership));
    expect((await post(honest, digestOf(sender.identity, sender.membership, many))).status).toBe(400);
    expect((await post(honest, 'x'.repeat(1024 * 1024 + 1))).status).toBe(413);
    expect(known(honest)).toEqual([honest.nodeId]);
  });

  it('gossips only once it has its certificate', async () => {
    const certified = await startNode();
    const newcomer = member();
    const pending = await startNode({ identity: newcomer.identity, membership: undefined });
    pending.learn([record(certified)], 'seed');
    await pending.round();
    expect(known(certified)).not.toContain(pending.nodeId);
    // It answers no exchange, and takes nothing from one.
    const peer = member();
    const friend = member();
    expect((await post(pending, digestOf(peer.identity, peer.membership, [recordOf(friend.identity, {}, friend.membership)]))).status).toBe(503);
    expect(known(pending)).not.toContain(friend.identity.nodeId);

    pending.certify(newcomer.membership);
    await pending.round();
    expect(known(certified)).toContain(pending.nodeId);
    expect(() => pending.certify(member().membership)).toThrow(expect.objectContaining({ code: 'NODE_ID_MISMATCH' }));
  });

  it('refuses a self-record dated more than a minute ahead, and forgets by arrival, not by the version a member chose', async () => {
    const honest = await startNode({ maxPeers: 3 });
    const sender = member();
    const [early, late, later] = [member(), member(), member()];
    const from = (records: unknown[]) => post(honest, digestOf(sender.identity, sender.membership, records));

    const farAhead = recordOf(early.identity, { version: Date.now() + MAX_CLOCK_SKEW_MS + 60_000 }, early.membership);
    expect((await from([farAhead])).status).toBe(200);
    expect(known(honest)).not.toContain(early.identity.nodeId);

    // Within the skew it counts; then two older-dated records arrive after it.
    await from([recordOf(early.identity, { version: Date.now() + MAX_CLOCK_SKEW_MS / 2 }, early.membership)]);
    await from([recordOf(late.identity, { version: 1 }, late.membership)]);
    expect(known(honest).sort()).toEqual([honest.nodeId, early.identity.nodeId, late.identity.nodeId].sort());
    await from([recordOf(later.identity, { version: 2 }, later.membership)]);
    // Over the cap of 3: the first to arrive goes, though its version is the highest.
    expect(known(honest).sort()).toEqual([honest.nodeId, late.identity.nodeId, later.identity.nodeId].sort());
  });

  it('listens on an IPv6 host at a bracketed address peers can use', async () => {
    const node = await startNode({ host: '::1' });
    expect(node.address).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const peer = await startNode();
    peer.learn([record(node)], 'seed');
    await peer.round();
    expect(known(node)).toContain(peer.nodeId);
  });

  it('speaks TLS to a peer at an https address, and reports each failed exchange, naming the peer', async () => {
    // A bare TCP server: the first bytes a client sends show whether it speaks TLS or plain HTTP.
    const firstBytes: Buffer[] = [];
    const tcp = createTcpServer((socket) =>
      socket.once('data', (chunk: Buffer) => {
        firstBytes.push(chunk);
        socket.destroy();
      }),
    );
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const errors: unknown[] = [];
    try {
      const node = await startNode({ onError: (error) => errors.push(error) });
      const peer = member().identity;
      const address = `https://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
      node.learn([{ nodeId: peer.nodeId, publicKey: peer.publicKey, address, status: 'alive', version: 1 }], 'primary');
      await node.round();
      // A TLS handshake record (0x16), not "POST".
      expect(firstBytes).toHaveLength(1);
      expect(firstBytes[0]![0]).toBe(0x16);
      expect(errors).toEqual([expect.any(GossipExchangeFailed)]);
      expect(errors[0]).toMatchObject({ peer: peer.nodeId, address, again: false });
      await node.round();
      expect(errors[1]).toMatchObject({ peer: peer.nodeId, again: true });
    } finally {
      await new Promise((resolve) => tcp.close(resolve));
    }
  });

  it('reports a peer that fails again after it answered as a new failure', async () => {
    const errors: GossipExchangeFailed[] = [];
    const node = await startNode({ onError: (error) => errors.push(error as GossipExchangeFailed) });
    const other = member();
    const first = await startNode(other);
    node.learn([record(first)], 'primary');
    await first.stop();
    await node.round();
    expect(errors.map((error) => error.again)).toEqual([false]);

    // The same node back on the same port: the exchange goes through.
    const back = await startNode({ ...other, port: Number(new URL(first.address).port) });
    await node.round();
    expect(known(back)).toContain(node.nodeId);
    expect(errors).toHaveLength(1);
    await back.stop();
    await node.round();
    expect(errors.map((error) => error.again)).toEqual([false, false]);
  });

  it('drops a client that never finishes its request, and stops even while one is connected', async () => {
    const halfSent = (node: GossipNode) =>
      new Promise<ReturnType<typeof connectTcp>>((resolve) => {
        const url = new URL(node.address);
        const socket = connectTcp(Number(url.port), url.hostname, () => {
          socket.write('POST /gossip HTTP/1.1\r\nHost: x\r\n');
          resolve(socket);
        });
        socket.on('error', () => undefined).resume();
      });

    const impatient = await startNode({ requestTimeoutMs: 200 });
    const slow = await halfSent(impatient);
    await new Promise((resolve) => slow.once('close', resolve));

    // A server that would wait for the client for minutes still stops at once.
    const patient = await startNode({ requestTimeoutMs: 600_000 });
    const lingering = await halfSent(patient);
    await patient.stop();
    lingering.destroy();
  });
});
