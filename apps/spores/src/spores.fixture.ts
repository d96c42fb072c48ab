import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetNode, type NodeView } from '@mycelium/contracts';
import { initNetwork, issueJoinToken, type Network } from '@mycelium/identity';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { GridLink, VirtualNode } from '@mycelium/node-client';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore } from '@mycelium/testing';
import { DEFAULT_TIER_RULES } from './domain/node/tier-rules.js';
import type { SporesConfig } from './spores.config.js';
import { configuredSporesService } from './spores.service.js';

export const HEARTBEAT_MS = 200;
export const DOWN_GRACE_MS = 500;
export const capabilities = { cpuCores: 8, memoryMiB: 16384, diskGiB: 500, region: 'eu-west', tags: ['ssd'], agentVersion: '0.1.0' };

/** A spores service on the real NATS and PostgreSQL, with a network, a token and virtual nodes. */
export interface SporesFixture {
  db: TestStore;
  bus: TestBus;
  network: Network;
  runtime: Runtime;
  client: CommandClient;
  link: GridLink;
  token: string;
  seedFile: string;
  /** Virtual nodes made by {@link node}, closed at dispose. */
  nodes: VirtualNode[];
  readonly spores: RunningService;
  config(): SporesConfig;
  /** Starts another instance of the service (or the first); returns it. */
  start(): Promise<RunningService>;
  node(options?: Partial<ConstructorParameters<typeof VirtualNode>[0]>): VirtualNode;
  viewOf(nodeId: string): Promise<NodeView>;
  /** The codes recorded in a security stream: a node id, or 'unattributed'. */
  securityEvents(stream: string): Promise<string[]>;
  dispose(): Promise<void>;
}

/** `secured`: the network has NATS operator keys, so the service trusts subjects to name senders. */
export async function openSporesFixture(overrides: Partial<SporesConfig> = {}, options: { secured?: boolean } = {}): Promise<SporesFixture> {
  const db = await openPostgresTestStore();
  const bus = await openTestBus();
  const dir = mkdtempSync(join(tmpdir(), 'spores-'));
  const network = await initNetwork(join(dir, 'network'), { secured: options.secured ?? false });
  const seedFile = join(dir, 'seed.json');
  const token = issueJoinToken(network.signer!, { tier: 'sclerotia', ttlSeconds: 3600 }).token;
  const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
  const runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'spores-test', level: 'silent' }), relay: false });
  const client = new CommandClient(bus.nc, bus.topology);
  const link = new GridLink(bus.nc, (subject) => bus.topology.subject(subject));
  const instances: RunningService[] = [];
  const nodes: VirtualNode[] = [];

  const config = (): SporesConfig => ({
    heartbeatIntervalMs: HEARTBEAT_MS,
    missesBeforeSuspect: 3,
    downGraceMs: DOWN_GRACE_MS,
    maxClockSkewMs: 5000,
    initialTrust: 0.5,
    tierRules: { ...DEFAULT_TIER_RULES, sclerotia: { ...DEFAULT_TIER_RULES.sclerotia, minAgeMs: 1000 } },
    tierEvaluationMs: 200,
    network,
    seedExport: seedFile,
    natsServers: [bus.natsUrl],
    ...overrides,
  });

  const fixture: SporesFixture = {
    db,
    bus,
    network,
    runtime,
    client,
    link,
    token,
    seedFile,
    nodes,
    get spores() {
      return instances.at(-1)!;
    },
    config,
    async start() {
      const started = await startService(configuredSporesService(config()), runtime, { port: 0 });
      instances.push(started);
      return started;
    },
    node(options = {}) {
      const created = new VirtualNode({ link, network: network.info.networkId, token, capabilities, ...options });
      nodes.push(created);
      return created;
    },
    async viewOf(nodeId) {
      const reply = await client.send(GetNode, { nodeId });
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.result.node;
    },
    async securityEvents(stream) {
      return (await db.store.readStream(`spores/security/${stream}`)).map((event) => (event.data as { code: string }).code);
    },
    async dispose() {
      for (const created of nodes) created.close();
      for (const instance of instances) await instance.stop();
      await runtime.close();
      await bus.dispose();
      await db.dispose();
    },
  };
  return fixture;
}
