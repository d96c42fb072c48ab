import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetNode, QueryNodes } from '@mycelium/contracts';
import { initNetwork, issueJoinToken, type Network, verifyMembership } from '@mycelium/identity';
import { GridLink, VirtualNode } from '@mycelium/node-client';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from './simulator.js';

const HEARTBEAT_MS = 200;

describe('simulator', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let spores: RunningService;
  let client: CommandClient;
  let simulator: Simulator;
  let network: Network;
  let token: string;

  const statusOf = async (nodeId: string) => {
    const reply = await client.send(GetNode, { nodeId });
    return reply.ok ? reply.result.node.status : undefined;
  };

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'simulator-'));
    network = await initNetwork(join(dir, 'network'), { secured: false });
    const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
    runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'sim-test', level: 'silent' }), relay: false });
    spores = await startService(
      configuredSporesService({
        heartbeatIntervalMs: HEARTBEAT_MS,
        missesBeforeSuspect: 3,
        downGraceMs: 400,
        maxClockSkewMs: 5000,
        initialTrust: 0.5,
        tierRules: DEFAULT_TIER_RULES,
        tierEvaluationMs: 10_000,
        network,
        natsServers: [bus.natsUrl],
      }),
      runtime,
      { port: 0 },
    );
    client = new CommandClient(bus.nc, bus.topology);
    token = issueJoinToken(network.signer!, { tier: 'sclerotia', ttlSeconds: 600 }).token;
    simulator = new Simulator({ nc: bus.nc, network: network.info.networkId, token, subject: (subject) => bus.topology.subject(subject) });
  });
  afterAll(async () => {
    await simulator?.stop();
    await spores?.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('joins many signed virtual nodes, keeps them alive, and applies faults on demand', async () => {
    const joined = await simulator.join(40);
    expect(joined).toMatchObject({ joined: 40, failed: 0 });
    // Each holds the network's certificate of its key, to show gossip peers.
    const networkPublic = { id: network.info.networkId, publicKey: network.info.publicKey };
    for (const node of simulator.nodes) expect(verifyMembership(node.membership, networkPublic, node.identity.publicKey).nodeId).toBe(node.nodeId);
    simulator.startHeartbeats(HEARTBEAT_MS);
    const alive = async () => {
      const reply = await client.send(QueryNodes, { status: 'alive', limit: 1 });
      return reply.ok ? reply.result.total : 0;
    };
    await waitFor(async () => (await alive()) === 40, { what: '40 alive nodes' });

    const killed = simulator.fault('kill', 3);
    const forged = simulator.fault('forge', 2);
    const paused = simulator.fault('pause', 2, { pauseMs: HEARTBEAT_MS * 12, intervalMs: HEARTBEAT_MS });
    for (const nodeId of killed) await waitFor(async () => (await statusOf(nodeId)) === 'down', { what: `${nodeId} down` });
    // A forger's heartbeats are refused: it goes silent for the grid, and the refusals are on record
    // (as no node's: on an open network a bad signature proves nothing about who sent it).
    for (const nodeId of forged) await waitFor(async () => ['suspected', 'down'].includes((await statusOf(nodeId)) ?? ''), { what: `${nodeId} silent` });
    const unattributed = (await db.store.readStream('spores/security/unattributed')).map((event) => event.data as { code: string; claimedNodeId?: string });
    expect(unattributed.some(({ code, claimedNodeId }) => code === 'BAD_SIGNATURE' && forged.includes(claimedNodeId ?? ''))).toBe(true);
    // A paused node falls silent long enough to be suspected, then comes back.
    const historyOf = async (nodeId: string) => {
      const reply = await client.send(GetNode, { nodeId, history: true });
      return reply.ok ? reply.result.history!.map((entry) => entry.type.split('.')[2]) : [];
    };
    for (const nodeId of paused) {
      await waitFor(async () => (await historyOf(nodeId)).includes('node-recovered'), { what: `${nodeId} back`, timeoutMs: 30_000 });
      expect(await historyOf(nodeId)).toEqual(expect.arrayContaining(['node-suspected', 'node-recovered']));
      expect(await statusOf(nodeId)).toBe('alive');
    }
    expect(simulator.stats().byState).toMatchObject({ killed: 3, forging: 2 });
  });

  it('does not bring a paused node back once the simulation stopped, or once the node was killed', async () => {
    const pauseMs = HEARTBEAT_MS;
    const short = new Simulator({ nc: bus.nc, network: network.info.networkId, token, subject: (subject) => bus.topology.subject(subject) });
    expect(await short.join(3)).toMatchObject({ joined: 3 });
    short.startHeartbeats(HEARTBEAT_MS);
    expect(short.fault('pause', 3, { pauseMs, intervalMs: HEARTBEAT_MS })).toHaveLength(3);
    await short.stop();

    const node = new VirtualNode({
      link: new GridLink(bus.nc, (subject) => bus.topology.subject(subject)),
      network: network.info.networkId,
      token,
      capabilities: { cpuCores: 2, memoryMiB: 4096, diskGiB: 50, region: 'sim-a', tags: [], agentVersion: 'sim-0.1.0' },
    });
    await node.join();
    node.startHeartbeats(HEARTBEAT_MS);
    node.pause(pauseMs);
    node.kill();

    // Past the end of every pause: nothing resumed.
    await new Promise((resolve) => setTimeout(resolve, pauseMs * 3));
    expect(short.nodes.filter((paused) => paused.heartbeating)).toEqual([]);
    expect(short.stats().byState).toEqual({ stopped: 3 });
    expect(node.heartbeating).toBe(false);
    node.close();
  });
});
