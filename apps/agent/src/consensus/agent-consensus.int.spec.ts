import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { GetRound, type OpenedRound, OpenRound, QueryNodes, type RoundView } from '@mycelium/contracts';
import { configuredConsensusService, defaultConsensusConfig } from '@mycelium/consensus';
import { bootstrapPermissions, initNetwork, issueJoinToken, type Network } from '@mycelium/identity';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService, Topology } from '@mycelium/messaging';
import { GridLink, VirtualNode } from '@mycelium/node-client';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, startNatsServer, type TestNatsServer, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent.js';

/**
 * Node agents on a secured grid answering node-liveness rounds: each probes the suspect itself,
 * so a node that is gone is voted down and a node that only lost the control plane is voted up.
 */
describe('agents in consensus rounds', () => {
  let network: Network;
  let nats: TestNatsServer;
  let services: NatsConnection;
  let client: CommandClient;
  let dir: string;
  let store: TestStore;
  let runtime: Runtime;
  const running: RunningService[] = [];
  const agents: Agent[] = [];
  const logs = new Map<string, Record<string, unknown>[]>();
  let peerServer: Server | undefined;

  const tokenFor = async () => {
    const id = randomUUID();
    const creds = await network.nats!.issueCreds(`join-${id}`, { permissions: bootstrapPermissions(id), expiresAt: new Date(Date.now() + 3_600_000) });
    return issueJoinToken(network.signer!, { tier: 'rhizomorph', ttlSeconds: 3000, id, nats: { servers: [nats.url], creds } }).token;
  };

  const startAgent = async (name: string) => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const agent = new Agent(
      { dataDir: join(dir, name), token: await tokenFor(), requestedTier: 'rhizomorph', region: 'test-1', tags: [], gossipHost: '127.0.0.1', gossipPort: 0 },
      createLogger({ name: 'agent', level: 'info', destination }),
    );
    agents.push(agent);
    await agent.start();
    logs.set(agent.nodeId, lines);
    return agent;
  };

  const ok = async <T>(reply: Promise<{ ok: true; result: T } | { ok: false; error: { code: string; message: string } }>): Promise<T> => {
    const answer = await reply;
    if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
    return answer.result;
  };
  const aliveNodes = async () => (await ok(client.send(QueryNodes, { status: 'alive' }))).nodes.map((node) => node.nodeId);
  const livenessRound = (subject: string): Promise<OpenedRound> =>
    ok(client.send(OpenRound, { topic: 'node-liveness', question: `Is node ${subject} down?`, subject, options: ['up', 'down'], commitMs: 2500, revealMs: 1500, requestedBy: 'test' }));
  const closed = (roundId: string) =>
    waitFor(
      async () => {
        const round = await ok<RoundView>(client.send(GetRound, { roundId }));
        return round.status === 'closed' ? round : undefined;
      },
      { what: `round ${roundId} to close` },
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-consensus-'));
    network = await initNetwork(join(dir, 'network'), { secured: true });
    nats = await startNatsServer({ config: network.nats!.serverConfig({ host: '127.0.0.1', port: 0, storeDir: '{{STORE}}' }).replace(/listen: "127\.0\.0\.1:0"/, 'listen: "127.0.0.1:{{PORT}}"') });
    services = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(network.servicesCreds!)) });
    client = new CommandClient(services, new Topology());
    store = await openPostgresTestStore();
    runtime = await openRuntime({
      config: { ...loadConfig({}, dir), natsUrl: nats.url, natsCreds: network.servicesCreds, databaseUrl: store.databaseUrl, schema: store.schema },
      topology: new Topology(),
      logger: createLogger({ name: 'agent-consensus-int', level: 'silent' }),
      relay: false,
    });
    running.push(
      await startService(
        configuredSporesService({
          heartbeatIntervalMs: 200,
          missesBeforeSuspect: 3,
          downGraceMs: 1000,
          maxClockSkewMs: 10_000,
          initialTrust: 0.5,
          tierRules: DEFAULT_TIER_RULES,
          tierEvaluationMs: 60_000,
          network,
          natsServers: [nats.url],
        }),
        runtime,
        { port: 0 },
      ),
      await startService(configuredConsensusService(defaultConsensusConfig({ closerTickMs: 50 })), runtime, { port: 0 }),
    );
    for (const name of ['a', 'b', 'c']) await startAgent(name);
    await waitFor(async () => (await aliveNodes()).length === 3, { what: 'three alive agents' });
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.stop()));
    await new Promise((resolve) => (peerServer ? peerServer.close(resolve) : resolve(undefined)));
    for (const service of running.reverse()) await service.stop();
    await runtime?.close();
    await store?.dispose();
    await services?.close();
    await nats?.stop();
  });

  it('votes down a node whose agent has stopped', async () => {
    const stopped = await startAgent('stopped');
    await waitFor(async () => (await aliveNodes()).includes(stopped.nodeId), { what: 'the fourth agent to be alive' });
    await stopped.stop();

    const opened = await livenessRound(stopped.nodeId);
    expect(opened.participants.map((participant) => participant.nodeId).sort()).toEqual(agents.slice(0, 3).map((agent) => agent.nodeId).sort());
    const round = await closed(opened.roundId);
    expect(round).toMatchObject({ outcome: 'down', tally: { up: 0, down: 1.5 }, offenders: [] });
    expect(round.participants.every((participant) => participant.vote === 'down' && participant.valid)).toBe(true);
    expect(logs.get(agents[0]!.nodeId)!.some((line) => line.msg === `probed node ${stopped.nodeId}: down`)).toBe(true);
  });

  it('votes up a node whose control-plane link is cut while its peers still reach it', async () => {
    // Its gossip endpoint answers (as a gossip server answers a GET: 404); it never heartbeats.
    peerServer = createServer((_request, response) => response.writeHead(404).end());
    await new Promise<void>((resolve) => peerServer!.listen(0, '127.0.0.1', resolve));
    const address = `http://127.0.0.1:${(peerServer.address() as AddressInfo).port}`;
    const cut = new VirtualNode({
      link: new GridLink(services),
      network: network.info.networkId,
      token: await tokenFor(),
      capabilities: { cpuCores: 2, memoryMiB: 2048, diskGiB: 20, region: 'test-1', tags: [], agentVersion: '0.1.0' },
      requestedTier: 'rhizomorph',
      gossipAddress: address,
    });
    await cut.join();

    const opened = await livenessRound(cut.nodeId);
    expect(opened.participants).toHaveLength(3);
    const round = await closed(opened.roundId);
    // The first round raised the three voters' trust: 0.52 each.
    expect(round).toMatchObject({ outcome: 'up', tally: { up: 1.56, down: 0 }, offenders: [] });
    expect(round.participants.every((participant) => participant.vote === 'up' && participant.valid)).toBe(true);
    cut.close();
  });

  it('abstains from a topic it has no vote rule for: no commitment, no offence', async () => {
    const opened = await ok(
      client.send(OpenRound, { topic: 'network-change', question: 'Raise the minimum agent version?', subject: 'min-agent-version-0.2.0', options: ['approve', 'reject'], commitMs: 300, revealMs: 300 }),
    );
    const round = await closed(opened.roundId);
    expect(round).toMatchObject({ outcome: 'inconclusive', tally: { approve: 0, reject: 0 }, offenders: [] });
    expect(round.participants.some((participant) => participant.committed)).toBe(false);
  });
});
