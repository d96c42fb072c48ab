import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetNode } from '@mycelium/contracts';
import { commitmentOf, ConsensusSubjects } from '@mycelium/contracts/consensus';
import { type StartReplica, type WorkloadReport, WorkloadSubjects } from '@mycelium/contracts/workloads';
import { initNetwork, issueJoinToken, openEnvelope } from '@mycelium/identity';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaEndpoint } from './replica-endpoint.js';
import { Simulator } from './simulator.js';

/** Status of a GET, or 0 when the connection is refused or reset. */
const statusOf = (url: string) =>
  new Promise<number>((resolve) => {
    const req = request(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });

describe('simulator - virtual nodes that run replicas and vote', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let spores: RunningService;
  let endpoint: ReplicaEndpoint;
  let simulator: Simulator;
  let networkId: string;
  let token: string;
  const reports = new Map<string, WorkloadReport>();
  const votes: { subject: string; envelope: unknown }[] = [];

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'simulator-agents-'));
    const network = await initNetwork(join(dir, 'network'), { secured: false });
    const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
    runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'sim-agents-test', level: 'silent' }), relay: false });
    spores = await startService(
      configuredSporesService({
        heartbeatIntervalMs: 1000,
        missesBeforeSuspect: 3,
        downGraceMs: 1000,
        maxClockSkewMs: 5000,
        initialTrust: 0.5,
        tierRules: DEFAULT_TIER_RULES,
        tierEvaluationMs: 60_000,
        network,
        natsServers: [bus.natsUrl],
      }),
      runtime,
      { port: 0 },
    );
    bus.nc.subscribe(bus.topology.subject(WorkloadSubjects.allReports), {
      callback: (_error, msg) => {
        const report = msg.json<WorkloadReport>();
        reports.set(report.nodeId, report);
      },
    });
    for (const pattern of [ConsensusSubjects.allCommits, ConsensusSubjects.allReveals]) {
      bus.nc.subscribe(bus.topology.subject(pattern), {
        callback: (_error, msg) => {
          votes.push({ subject: bus.topology.unprefixed(msg.subject), envelope: msg.json() });
        },
      });
    }
    await bus.nc.flush();
    endpoint = await new ReplicaEndpoint().start();
    token = issueJoinToken(network.signer!, { tier: 'sclerotia', ttlSeconds: 600 }).token;
    networkId = network.info.networkId;
    simulator = new Simulator({ nc: bus.nc, network: networkId, token, subject: (subject) => bus.topology.subject(subject), endpoint, reportMs: 200 });
    expect(await simulator.join(3)).toMatchObject({ joined: 3, failed: 0 });
  });
  afterAll(async () => {
    await simulator?.stop();
    await endpoint?.close();
    await spores?.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('beats from each node’s join on once heartbeats were asked for before the nodes joined', async () => {
    const early = new Simulator({ nc: bus.nc, network: networkId, token, subject: (subject) => bus.topology.subject(subject) });
    early.startHeartbeats(1000);
    expect(await early.join(2)).toMatchObject({ joined: 2 });
    expect(early.nodes.map((node) => node.heartbeating)).toEqual([true, true]);
    await early.stop();
  });

  it('registers each node with a gossip address on the shared endpoint, which stops answering once the node is killed', async () => {
    const [alive, doomed] = simulator.nodes;
    const client = new CommandClient(bus.nc, bus.topology);
    const registered = await client.send(GetNode, { nodeId: alive!.nodeId });
    expect(registered.ok && registered.result.node.gossipAddress).toBe(endpoint.gossipAddressOf(alive!.nodeId));
    expect(simulator.fault('kill', 1, { among: [doomed!.nodeId] })).toEqual([doomed!.nodeId]);
    expect(await statusOf(endpoint.gossipAddressOf(alive!.nodeId))).toBe(404);
    expect(await statusOf(endpoint.gossipAddressOf(doomed!.nodeId))).toBe(0);
  });

  it('starts a replica on request, reports it healthy at the endpoint, and forgets it when stopped', async () => {
    const node = simulator.nodes[0]!;
    const start: StartReplica = {
      replicaId: 'web-1a2b3c4d',
      appId: 'app_0123456789abcdef',
      tenant: 'acme',
      app: 'web',
      version: '1.0.0',
      command: ['node', 'server.mjs'],
      env: {},
      health: { path: '/healthz', intervalMs: 100, timeoutMs: 500, failureThreshold: 2 },
      resources: { cpu: 0.1, memoryMiB: 64, storageGiB: 0 },
      stopGraceMs: 500,
    };
    bus.nc.publish(bus.topology.subject(WorkloadSubjects.start(node.nodeId)), JSON.stringify(start));
    const healthy = await waitFor(() => reports.get(node.nodeId)?.replicas.find((replica) => replica.replicaId === start.replicaId && replica.state === 'healthy'), {
      what: 'the replica reported healthy',
    });
    expect(healthy).toMatchObject({ appId: start.appId, version: '1.0.0', address: endpoint.address });
    expect(await statusOf(`http://${healthy.address}/healthz`)).toBe(200);
    expect(simulator.replicas()).toEqual([{ nodeId: node.nodeId, replicaId: start.replicaId, appId: start.appId, state: 'healthy' }]);

    bus.nc.publish(bus.topology.subject(WorkloadSubjects.stop(node.nodeId)), JSON.stringify({ replicaId: start.replicaId, reason: 'test' }));
    await waitFor(() => reports.get(node.nodeId)?.replicas.length === 0, { what: 'the replica gone from the reports' });
    expect(simulator.replicas()).toEqual([]);
  });

  it('votes in a node-liveness round: down about a node it killed, up about one that is only paused, signed by each voter', async () => {
    const [voter, killed, paused] = simulator.nodes;
    simulator.fault('pause', 1, { among: [paused!.nodeId], pauseMs: 60_000 });
    const roundFor = (suspect: string, roundId: string) => ({
      roundId,
      topic: 'node-liveness',
      question: `Is node ${suspect} down?`,
      subject: suspect,
      options: ['up', 'down'],
      commitDeadline: new Date(Date.now() + 300).toISOString(),
      revealDeadline: new Date(Date.now() + 900).toISOString(),
      suspect: { nodeId: suspect, gossipAddress: endpoint.gossipAddressOf(suspect) },
    });
    const rounds = { [killed!.nodeId]: '11111111-2222-4333-8444-555555555555', [paused!.nodeId]: '21111111-2222-4333-8444-555555555555' };
    for (const [suspect, roundId] of Object.entries(rounds)) bus.nc.publish(bus.topology.subject(ConsensusSubjects.invite(voter!.nodeId)), JSON.stringify(roundFor(suspect, roundId)));
    // A killed node answers no invitation.
    bus.nc.publish(bus.topology.subject(ConsensusSubjects.invite(killed!.nodeId)), JSON.stringify(roundFor(paused!.nodeId, '31111111-2222-4333-8444-555555555555')));

    await waitFor(() => votes.length >= 4, { what: 'two commits and two reveals' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(votes.every((vote) => vote.subject.startsWith(`agent.${voter!.nodeId}.consensus.`))).toBe(true);
    const opened = votes.map((vote) => ({ subject: vote.subject, payload: openEnvelope<Record<string, string>>(vote.envelope, voter!.identity.publicKey) }));
    for (const [suspect, roundId] of Object.entries(rounds)) {
      const commit = opened.find((vote) => vote.payload.kind === 'consensus-commit' && vote.payload.roundId === roundId)!;
      const reveal = opened.find((vote) => vote.payload.kind === 'consensus-reveal' && vote.payload.roundId === roundId)!;
      expect(reveal.payload.vote).toBe(suspect === killed!.nodeId ? 'down' : 'up');
      expect(commitmentOf(reveal.payload.vote!, reveal.payload.salt!)).toBe(commit.payload.commitment);
    }
    expect(votes).toHaveLength(4);
  });
});
