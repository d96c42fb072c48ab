import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { AgentSubjects } from '@mycelium/contracts/agent';
import {
  bootstrapPermissions,
  initNetwork,
  issueJoinToken,
  issueMembership,
  type Network,
  newNonce,
  peekEnvelope,
  sealEnvelope,
  type SignedEnvelope,
  verifyMembership,
} from '@mycelium/identity';
import { loadConfig, openRuntime, type RunningService, type Runtime, startService, Topology } from '@mycelium/messaging';
import { newNodeIdentity } from '@mycelium/node-client';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { freePort, openPostgresTestStore, startNatsServer, type TestNatsServer, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type AgentError, type AgentOptions } from './agent.js';
import { readMembership } from './membership.js';

const HEARTBEAT_MS = 100;

/** A grid on a secured network: NATS in operator mode, so members connect with credentials of their own. */
describe('node agent', () => {
  let network: Network;
  let nats: TestNatsServer;
  let services: NatsConnection;
  let dir: string;
  let grid: { stop(): Promise<void> } | undefined;
  const agents: Agent[] = [];

  /** The spores service on a store of its own: a new grid remembers no node the last one knew. */
  const startGrid = async () => {
    const store: TestStore = await openPostgresTestStore();
    const runtime: Runtime = await openRuntime({
      config: { ...loadConfig({}, dir), natsUrl: nats.url, natsCreds: network.servicesCreds, databaseUrl: store.databaseUrl, schema: store.schema },
      topology: new Topology(),
      logger: createLogger({ name: 'agent-int', level: 'silent' }),
      relay: false,
    });
    const spores: RunningService = await startService(
      configuredSporesService({
        heartbeatIntervalMs: HEARTBEAT_MS,
        missesBeforeSuspect: 3,
        downGraceMs: 1000,
        maxClockSkewMs: 10_000,
        initialTrust: 0.5,
        tierRules: DEFAULT_TIER_RULES,
        tierEvaluationMs: 10_000,
        network,
        natsServers: [nats.url],
      }),
      runtime,
      { port: 0 },
    );
    grid = {
      stop: async () => {
        grid = undefined;
        await spores.stop();
        await runtime.close();
        await store.dispose();
      },
    };
  };

  /** A join token as `myc node token` issues it on a secured network: with credentials that only ask to join. */
  const tokenFor = async (ttlSeconds: number) => {
    const id = randomUUID();
    const creds = await network.nats!.issueCreds(`join-${id}`, { permissions: bootstrapPermissions(id), expiresAt: new Date(Date.now() + (ttlSeconds + 600) * 1000) });
    return issueJoinToken(network.signer!, { tier: 'rhizomorph', ttlSeconds, id, nats: { servers: [nats.url], creds } });
  };

  const startAgent = (dataDir: string, options: Partial<AgentOptions> = {}) => {
    const logs: Record<string, unknown>[] = [];
    const fatal: AgentError[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const agent = new Agent(
      {
        dataDir,
        requestedTier: 'rhizomorph',
        region: 'test-1',
        tags: [],
        gossipHost: '127.0.0.1',
        gossipPort: 0,
        rejoinBackoffMs: { initial: 50, max: 400 },
        onFatal: (error) => fatal.push(error),
        ...options,
      },
      createLogger({ name: 'agent', level: 'debug', destination }),
    );
    agents.push(agent);
    const logged = (msg: string | RegExp) => logs.filter((line) => (typeof msg === 'string' ? line.msg === msg : msg.test(String(line.msg))));
    return { agent, logs, fatal, logged };
  };

  /** Every heartbeat the node sends from now on. */
  const heartbeatsOf = (nodeId: string) => {
    const seen: { usage: { diskFreeGiB: number } }[] = [];
    services.subscribe(AgentSubjects.heartbeat(nodeId), { callback: (_error, msg) => void seen.push(peekEnvelope(JSON.parse(msg.string())) as never) });
    return seen;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-int-'));
    network = await initNetwork(join(dir, 'network'), { secured: true });
    nats = await startNatsServer({ config: network.nats!.serverConfig({ host: '127.0.0.1', port: 0, storeDir: '{{STORE}}' }).replace(/listen: "127\.0\.0\.1:0"/, 'listen: "127.0.0.1:{{PORT}}"') });
    services = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(network.servicesCreds!)) });
    await startGrid();
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.stop()));
    if (!grid) await startGrid();
  });
  afterAll(async () => {
    await services?.close();
    await grid?.stop();
    await nats?.stop();
  });

  it('rejoins a grid that forgot it: one attempt at a time, backing off while the grid is away, then with its token', async () => {
    const { token } = await tokenFor(3600);
    const { agent, fatal, logged } = startAgent(join(dir, 'forgotten'), { token });
    expect(await agent.start()).toMatchObject({ nodeId: agent.nodeId });

    await grid!.stop();
    const rejoining = agent.rejoin();
    expect(agent.rejoin()).toBe(rejoining);
    await waitFor(() => logged('could not rejoin the grid: trying again').length >= 4, { what: 'four failed attempts' });
    // Doubling from 50 ms with jitter: attempt 3 waits at least 100 ms, attempt 1 under 50.
    const waits = logged('could not rejoin the grid: trying again').map((line) => line.retryInMs as number);
    expect(waits[0]).toBeLessThan(50);
    expect(waits[2]).toBeGreaterThanOrEqual(100);
    expect(Math.max(...waits)).toBeLessThanOrEqual(400);
    expect(fatal).toEqual([]);

    // A new grid on a new store: it has never heard of the node, whose NATS credentials still work.
    await startGrid();
    await rejoining;
    expect(logged('the grid does not know this node: asking again with the join token')).toHaveLength(1);
    expect(logged('joined the grid')).toHaveLength(2);
    expect(fatal).toEqual([]);
  });

  it('gives up, saying to get a new token, when the grid forgot it and its token has expired', async () => {
    const { token, claims } = await tokenFor(2);
    const { agent, fatal, logged } = startAgent(join(dir, 'expired'), { token, maxHopelessRejoins: 3, heartbeatMs: HEARTBEAT_MS });
    await agent.start();
    await waitFor(() => Date.now() > claims.exp * 1000, { what: 'the token to expire' });
    await grid!.stop();
    await startGrid();

    // Its next heartbeat is refused with a notice to rejoin; without a token it cannot.
    await waitFor(() => fatal.length > 0, { what: 'the agent giving up' });
    expect(fatal[0]!.message).toMatch(/refused to let node [0-9a-f]{20} rejoin 3 times in a row: .*\(NOT_A_MEMBER\)\. Get a new join token with `myc node token`/);
    expect(logged(/the join token has expired and is dropped/)).toHaveLength(1);
    expect(logged(/rejoin 3 times in a row/)[0]).toMatchObject({ level: 'fatal' });
  });

  it('counts only refusals in a row: an attempt the grid does not answer starts the count again', async () => {
    const { token, claims } = await tokenFor(2);
    // Waits of 0.5 to 1 s between attempts: time enough to take the grid away between two.
    const { agent, fatal, logged } = startAgent(join(dir, 'refused-twice'), { token, maxHopelessRejoins: 2, heartbeatMs: HEARTBEAT_MS, rejoinBackoffMs: { initial: 1000, max: 1000 } });
    await agent.start();
    await waitFor(() => Date.now() > claims.exp * 1000, { what: 'the token to expire' });
    await grid!.stop();
    await startGrid();
    const failures = () => logged('could not rejoin the grid: trying again').map((line) => (line.err as { code?: string }).code);

    // The new grid does not know the node, whose token has expired: refused. Then the grid goes away.
    await waitFor(() => failures().length > 0, { what: 'a first refusal' });
    expect(failures()).toEqual(['NOT_A_MEMBER']);
    await grid!.stop();
    await waitFor(() => failures().length > 1, { what: 'an attempt nobody answers' });
    expect(failures()[1]).not.toBe('NOT_A_MEMBER');

    // Back: the refusal right after the unanswered attempt is the first in a row; the next one ends it.
    await startGrid();
    await waitFor(() => fatal.length > 0, { what: 'the agent giving up' });
    expect(failures().at(-1)).toBe('NOT_A_MEMBER');
    expect(fatal[0]!.message).toMatch(/rejoin 2 times in a row: .*\(NOT_A_MEMBER\)\. Get a new join token with `myc node token` and restart the agent with --token <token> or MYCELIUM_JOIN_TOKEN$/);
  });

  it('stops cleanly when stopped while its join is under way', async () => {
    const { token } = await tokenFor(3600);
    const { agent, fatal, logged } = startAgent(join(dir, 'interrupted'), { token });
    let stopped: Promise<void> | undefined;
    const watch = services.subscribe(AgentSubjects.join, {
      callback: () => {
        stopped ??= agent.stop();
      },
    });
    await services.flush();
    expect(await agent.start()).toBeUndefined();
    await stopped;
    watch.unsubscribe();
    expect(logged('joined the grid')).toEqual([]);
    expect(fatal).toEqual([]);
  });

  it('keeps heartbeating when a measure fails, with the last known value', async () => {
    const { token } = await tokenFor(3600);
    const dataDir = join(dir, 'measured');
    const { agent, logged } = startAgent(dataDir, { token, heartbeatMs: HEARTBEAT_MS });
    await agent.start();
    const heartbeats = heartbeatsOf(agent.nodeId);
    await waitFor(() => heartbeats.length > 0, { what: 'a heartbeat' });
    const disk = heartbeats.at(-1)!.usage.diskFreeGiB;

    rmSync(dataDir, { recursive: true, force: true });
    await waitFor(() => logged('cannot measure diskFreeGiB: heartbeats carry its last known value until it can').length > 0, { what: 'the warning' });
    const after = heartbeats.length;
    await waitFor(() => heartbeats.length >= after + 3, { what: 'heartbeats after the failure' });
    expect(heartbeats.at(-1)!.usage.diskFreeGiB).toBe(disk);
    // Said once, not at every heartbeat.
    expect(logged(/cannot measure/)).toHaveLength(1);
  });

  it('keeps its membership certificate, and gossips after a restart while the grid is away', async () => {
    const { token } = await tokenFor(3600);
    const dataDir = join(dir, 'restarted');
    const first = startAgent(dataDir, { token });
    await first.agent.start();
    const networkPublic = { id: network.info.networkId, publicKey: network.info.publicKey };
    const kept = readMembership(dataDir)!.certificate;
    expect(verifyMembership(kept, networkPublic, first.agent.identity.publicKey).nodeId).toBe(first.agent.nodeId);
    await first.agent.stop();

    await grid!.stop();
    const again = startAgent(dataDir);
    expect(await again.agent.start()).toBeUndefined();
    expect(again.logged(/the grid does not answer/)).toHaveLength(1);

    // A member peer reaches it: it answers with its record and the certificate kept from before.
    const peer = newNodeIdentity();
    const peerCertificate = issueMembership(network.signer!, { network: network.info.networkId, publicKey: peer.publicKey });
    const certified = (payload: object) => ({ ...sealEnvelope(peer.signer, payload, { includeKey: true }), membership: peerCertificate });
    const self = certified({ kind: 'self', network: network.info.networkId, nodeId: peer.nodeId, address: 'http://127.0.0.1:1', version: Date.now() });
    const digest = certified({ kind: 'gossip', network: network.info.networkId, from: peer.nodeId, ts: Date.now(), nonce: newNonce(), records: [self] });
    const response = await fetch(`${again.agent.gossipAddress}/gossip`, { method: 'POST', body: JSON.stringify(digest) });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as SignedEnvelope & { pub: string; membership: SignedEnvelope };
    expect(verifyMembership(answer.membership, networkPublic, answer.pub).nodeId).toBe(again.agent.nodeId);
    expect(again.agent.peers().map((entry) => entry.nodeId)).toContain(peer.nodeId);
  });

  it('advertises the gossip address it is told, not the one it binds, and peers gossip to it there', async () => {
    const { token } = await tokenFor(3600);
    // Nothing listens there: what a peer's attempt ends with shows it really tried.
    const advertised = `https://127.0.0.1:${await freePort()}`;
    const { agent } = startAgent(join(dir, 'advertised'), { token, gossipAdvertise: advertised });
    await agent.start();
    expect(agent.gossipAddress).toBe(advertised);
    // The grid hands it out to those who join after.
    const { agent: next, logged } = startAgent(join(dir, 'next'), { token });
    const accepted = await next.start();
    expect(accepted!.peers.find((peer) => peer.nodeId === agent.nodeId)?.address).toBe(advertised);
    // They try it over https (refused, not an unsupported protocol), and say so once.
    const failed = () => logged('gossip with a peer failed').filter((line) => line.peer === agent.nodeId);
    await waitFor(() => logged('gossip exchange failed').some((line) => String((line.err as { message?: string }).message).includes(agent.nodeId)), { what: 'a second failed exchange' });
    expect(failed()).toHaveLength(1);
    expect(failed()[0]).toMatchObject({ level: 'warn', address: advertised, err: { message: expect.stringMatching(/ECONNREFUSED/) } });
  });

  it('exits with a fatal error when its NATS connection closes for good', async () => {
    const { token } = await tokenFor(3600);
    const { agent, fatal, logged } = startAgent(join(dir, 'cut-off'), { token, maxReconnectAttempts: 1, reconnectTimeWaitMs: 50 });
    await agent.start();
    await nats.stop();
    try {
      await waitFor(() => fatal.length > 0, { what: 'the agent giving up on NATS' });
    } finally {
      await nats.start();
    }
    expect(fatal[0]!.message).toMatch(/the NATS connection closed for good/);
    expect(logged(/the NATS connection closed for good/)[0]).toMatchObject({ level: 'fatal' });
  });
});
