import { mkdtempSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppReplicaFailed,
  AppReplicaHealthy,
  AppReplicaRestarted,
  AppRolloutFailed,
  type CommandDefinition,
  type CommandReply,
  EvacuateNode,
  type EvacuateNodeV1,
  gridRegistry,
  NodeRecovered,
  NodeSuspected,
  OpenRound,
  type OpenRoundV1,
  RetireReplica,
  type RetireReplicaV1,
  RoundClosed,
  SetNodeTrust,
  type SetNodeTrustV1,
} from '@mycelium/contracts';
import { CommandClient, CommandServer, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore } from '@mycelium/testing';
import { SecretBox } from '@mycelium/identity';
import { incidentStream } from './domain/incident/incident.js';
import { webhookStream } from './domain/webhook/webhook.js';
import type { HealingConfig } from './healing.config.js';
import { configuredHealingService } from './healing.service.js';

export function testHealingConfig(overrides: Partial<HealingConfig> = {}): HealingConfig {
  return {
    secrets: new SecretBox(SecretBox.generateKey()),
    tickMs: 50,
    roundCommitMs: 100,
    roundRevealMs: 100,
    roundGraceMs: 60_000,
    crashLoopCap: 2,
    crashLoopWindowMs: 600_000,
    flappingLimit: 3,
    flappingWindowMs: 600_000,
    quarantineTrust: 0.05,
    alertAttempts: 4,
    alertBackoffMs: 20,
    alertMaxBackoffMs: 100,
    alertTimeoutMs: 1000,
    ...overrides,
  };
}

export const newNodeId = () => randomBytes(10).toString('hex');
export const newAppId = () => `app_${randomBytes(8).toString('hex')}`;

/**
 * A healing service on the real NATS and PostgreSQL, with a relay carrying the log to JetStream,
 * and the services it commands (consensus, deployment, spores) stood in for on the real NATS: they
 * record what they were asked and answer like the real ones.
 */
export interface HealingFixture {
  db: TestStore;
  bus: TestBus;
  runtime: Runtime;
  config: HealingConfig;
  instances: RunningService[];
  rounds: OpenRoundV1[];
  evacuations: EvacuateNodeV1[];
  retirements: RetireReplicaV1[];
  trustChanges: SetNodeTrustV1[];
  /** What EvacuateNode answers, by node. */
  replicasOn: Map<string, { appId: string; replicaId: string }[]>;
  start(): Promise<RunningService>;
  stop(instance: RunningService): Promise<void>;
  send<Result>(command: CommandDefinition<object, Result>, payload: object): Promise<CommandReply<Result>>;
  /** Appends an upstream fact the way its service would; the relay publishes it. */
  suspect(nodeId: string, at?: string): Promise<void>;
  recover(nodeId: string): Promise<void>;
  closeRound(round: { roundId: string; subject: string; requestedBy?: string }, outcome: string): Promise<void>;
  appFact(tenant: string, appId: string, type: string, data: Record<string, unknown>): Promise<void>;
  incidentEvents(incidentId: string): Promise<{ name: string; data: Record<string, unknown> }[]>;
  webhookEvents(tenant: string): Promise<{ name: string; data: Record<string, unknown> }[]>;
  dispose(): Promise<void>;
}

export { AppReplicaFailed, AppReplicaHealthy, AppReplicaRestarted, AppRolloutFailed };

const nameOf = (type: string) => type.replace(/^mycelium\.healing\./, '').replace(/\.v\d+$/, '');

export async function openHealingFixture(overrides: Partial<HealingConfig> = {}): Promise<HealingFixture> {
  const db = await openPostgresTestStore();
  const bus = await openTestBus();
  const logger = createLogger({ name: 'healing-test', level: (process.env.HEALING_TEST_LOG as 'warn') ?? 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'healing-'));
  const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
  const runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger, relay: true, consumers: { backoffMs: 50, maxBackoffMs: 200 } });
  const client = new CommandClient(bus.nc, bus.topology);
  const config = testHealingConfig(overrides);
  const registry = gridRegistry();
  const standIn = (service: string) => new CommandServer({ service, nc: bus.nc, registry, topology: bus.topology, logger });
  const rounds: OpenRoundV1[] = [];
  const evacuations: EvacuateNodeV1[] = [];
  const retirements: RetireReplicaV1[] = [];
  const trustChanges: SetNodeTrustV1[] = [];
  const replicasOn = new Map<string, { appId: string; replicaId: string }[]>();
  const consensus = standIn('consensus');
  consensus.handle(OpenRound.subject, async ({ payload }) => {
    rounds.push(payload as OpenRoundV1);
    const now = Date.now();
    return { roundId: randomUUID(), participants: [], commitDeadline: new Date(now + 100).toISOString(), revealDeadline: new Date(now + 200).toISOString() };
  });
  const deployment = standIn('deployment');
  deployment.handle(EvacuateNode.subject, async ({ payload }) => {
    const request = payload as EvacuateNodeV1;
    evacuations.push(request);
    // Idempotent like the real one: the replicas marked now, none the second time.
    const replicas = replicasOn.get(request.nodeId) ?? [];
    replicasOn.delete(request.nodeId);
    return { replicas };
  });
  deployment.handle(RetireReplica.subject, async ({ payload }) => {
    retirements.push(payload as RetireReplicaV1);
    return { retired: true };
  });
  const spores = standIn('spores');
  spores.handle(SetNodeTrust.subject, async ({ payload }) => {
    trustChanges.push(payload as SetNodeTrustV1);
    return { trust: (payload as SetNodeTrustV1).trust };
  });
  const instances: RunningService[] = [];
  const read = async (stream: string) => (await db.store.readStream(stream)).map((event) => ({ name: nameOf(event.type), data: event.data as Record<string, unknown> }));
  return {
    db,
    bus,
    runtime,
    config,
    instances,
    rounds,
    evacuations,
    retirements,
    trustChanges,
    replicasOn,
    async start() {
      const started = await startService(configuredHealingService(config), runtime, { port: 0 });
      instances.push(started);
      return started;
    },
    async stop(instance) {
      instances.splice(instances.indexOf(instance), 1);
      await instance.stop();
    },
    send: (command, payload) => client.send(command, payload),
    async suspect(nodeId, at = new Date().toISOString()) {
      await db.store.append(`spores/node/${nodeId}`, [{ type: NodeSuspected.type, data: { nodeId, missedHeartbeats: 3, lastHeartbeatAt: at, at } }]);
    },
    async recover(nodeId) {
      await db.store.append(`spores/node/${nodeId}`, [{ type: NodeRecovered.type, data: { nodeId, from: 'suspected', at: new Date().toISOString() } }]);
    },
    async closeRound(round, outcome) {
      await db.store.append(`consensus/round/${round.roundId}`, [
        {
          type: RoundClosed.type,
          data: {
            roundId: round.roundId,
            topic: 'node-liveness',
            subject: round.subject,
            question: 'is it down?',
            outcome,
            tally: { up: outcome === 'up' ? 3 : 0, down: outcome === 'down' ? 3 : 0 },
            totalWeight: 3,
            quorum: 2 / 3,
            participants: 3,
            offenders: [],
            at: new Date().toISOString(),
            ...(round.requestedBy ? { requestedBy: round.requestedBy } : {}),
          },
        },
      ]);
    },
    async appFact(tenant, appId, type, data) {
      await db.store.append(`deployment/app/${appId}`, [{ type, data: { appId, at: new Date().toISOString(), ...data }, metadata: { tenant } }]);
    },
    incidentEvents: (incidentId) => read(incidentStream(incidentId)),
    webhookEvents: (tenant) => read(webhookStream(tenant)),
    async dispose() {
      for (const instance of instances.splice(0)) await instance.stop();
      await Promise.all([consensus.stop(), deployment.stop(), spores.stop()]);
      await runtime.close();
      await bus.dispose();
      await db.dispose();
    },
  };
}
