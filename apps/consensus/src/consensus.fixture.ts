import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CommitMessage,
  commitmentOf,
  ConsensusSubjects,
  GetNode,
  GetRound,
  GetTrust,
  type OpenedRound,
  OpenRound,
  type OpenRoundV1,
  type RevealMessage,
  type RoundInvitation,
  type RoundView,
  type TrustView,
} from '@mycelium/contracts';
import { generateKeyMaterial, initNetwork, issueJoinToken, sealEnvelope, Signer } from '@mycelium/identity';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { GridLink, VirtualNode } from '@mycelium/node-client';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { type ConsensusConfig, defaultConsensusConfig } from './consensus.config.js';
import { configuredConsensusService } from './consensus.service.js';

const capabilities = { cpuCores: 4, memoryMiB: 8192, diskGiB: 100, region: 'eu-west', tags: [], agentVersion: '0.1.0' };

/** A node that takes part in rounds by hand: honest, lying, copying or silent, as the test says. */
export interface Voter {
  node: VirtualNode;
  nodeId: string;
  /** Commits to `vote` (or sends `commitment` as is); returns the salt. */
  commit(roundId: string, vote: string, options?: { commitment?: string; salt?: string; forged?: boolean }): string;
  reveal(roundId: string, vote: string, salt: string): void;
}

/** The consensus and spores services on the real NATS and PostgreSQL, with joined, heartbeating nodes. */
export interface ConsensusFixture {
  db: TestStore;
  bus: TestBus;
  client: CommandClient;
  /** The newest consensus instance. */
  readonly consensus: RunningService;
  /** Invitations sent to any node, in order. */
  invitations: { nodeId: string; invitation: RoundInvitation }[];
  /** Starts another instance of the service (or the first), with `config` over the fixture's. */
  startConsensus(config?: Partial<ConsensusConfig>): Promise<RunningService>;
  /** Joins `count` heartbeating nodes (running `agentVersion`, default 0.1.0). */
  voters(count: number, options?: { agentVersion?: string }): Promise<Voter[]>;
  open(request: Partial<OpenRoundV1>): Promise<OpenedRound>;
  round(roundId: string): Promise<RoundView>;
  trust(nodeId: string): Promise<TrustView>;
  sporesTrust(nodeId: string): Promise<number>;
  /** Resolves once every given node's commitment is recorded. */
  committed(roundId: string, nodeIds: string[]): Promise<void>;
  /** Resolves once the commit deadline has passed. */
  commitPhaseOver(opened: OpenedRound): Promise<void>;
  closed(roundId: string): Promise<RoundView>;
  dispose(): Promise<void>;
}

export async function openConsensusFixture(overrides: Partial<ConsensusConfig> = {}): Promise<ConsensusFixture> {
  const db = await openPostgresTestStore();
  const bus = await openTestBus();
  const dir = mkdtempSync(join(tmpdir(), 'consensus-'));
  const network = await initNetwork(join(dir, 'network'), { secured: false });
  const token = issueJoinToken(network.signer!, { tier: 'sclerotia', ttlSeconds: 3600 }).token;
  const runtime: Runtime = await openRuntime({
    config: { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace },
    topology: bus.topology,
    logger: createLogger({ name: 'consensus-test', level: (process.env.CONSENSUS_TEST_LOG as 'info' | undefined) ?? 'silent' }),
    relay: true,
  });
  const spores = await startService(
    configuredSporesService({
      heartbeatIntervalMs: 200,
      missesBeforeSuspect: 5,
      downGraceMs: 2000,
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
  const client = new CommandClient(bus.nc, bus.topology);
  const link = new GridLink(bus.nc, (subject) => bus.topology.subject(subject));
  const instances: RunningService[] = [];
  const nodes: VirtualNode[] = [];
  const invitations: ConsensusFixture['invitations'] = [];
  bus.nc.subscribe(bus.topology.subject(ConsensusSubjects.invite('*')), {
    callback: (_error, msg) => void invitations.push({ nodeId: msg.subject.split('.').at(-3)!, invitation: msg.json<RoundInvitation>() }),
  });
  await bus.nc.flush();

  const ok = async <T>(reply: Promise<{ ok: true; result: T } | { ok: false; error: { code: string; message: string } }>): Promise<T> => {
    const answer = await reply;
    if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
    return answer.result;
  };
  const publish = (subject: string, signer: Signer, payload: CommitMessage | RevealMessage) =>
    bus.nc.publish(bus.topology.subject(subject), JSON.stringify(sealEnvelope(signer, payload)));

  const fixture: ConsensusFixture = {
    db,
    bus,
    client,
    invitations,
    get consensus() {
      return instances.at(-1)!;
    },
    async startConsensus(config = {}) {
      const started = await startService(configuredConsensusService(defaultConsensusConfig({ closerTickMs: 50, ...overrides, ...config })), runtime, { port: 0 });
      instances.push(started);
      return started;
    },
    async voters(count, options = {}) {
      const made: Voter[] = [];
      for (let index = 0; index < count; index += 1) {
        const node = new VirtualNode({ link, network: network.info.networkId, token, capabilities: { ...capabilities, ...(options.agentVersion ? { agentVersion: options.agentVersion } : {}) } });
        nodes.push(node);
        await node.join();
        node.startHeartbeats(200);
        const nodeId = node.nodeId;
        made.push({
          node,
          nodeId,
          commit(roundId, vote, options = {}) {
            const salt = options.salt ?? randomBytes(16).toString('hex');
            const signer = options.forged ? Signer.fromPem(generateKeyMaterial().privateKeyPem) : node.identity.signer;
            const commitment = options.commitment ?? commitmentOf(vote, salt);
            publish(ConsensusSubjects.commit(nodeId), signer, { kind: 'consensus-commit', nodeId, roundId, commitment, ts: Date.now() });
            return salt;
          },
          reveal(roundId, vote, salt) {
            publish(ConsensusSubjects.reveal(nodeId), node.identity.signer, { kind: 'consensus-reveal', nodeId, roundId, vote, salt, ts: Date.now() });
          },
        });
      }
      return made;
    },
    open: (request) =>
      ok(
        client.send(OpenRound, {
          topic: 'network-change',
          question: 'Raise the minimum agent version to 0.2.0?',
          subject: 'min-agent-version-0.2.0',
          options: ['approve', 'reject'],
          commitMs: 600,
          revealMs: 600,
          ...request,
        }),
      ),
    round: (roundId) => ok(client.send(GetRound, { roundId })),
    trust: (nodeId) => ok(client.send(GetTrust, { nodeId })),
    sporesTrust: async (nodeId) => (await ok(client.send(GetNode, { nodeId }))).node.trust,
    async committed(roundId, nodeIds) {
      await waitFor(
        async () => {
          const round = await fixture.round(roundId);
          return nodeIds.every((nodeId) => round.participants.find((participant) => participant.nodeId === nodeId)?.committed);
        },
        { what: 'the commitments to be recorded' },
      );
    },
    async commitPhaseOver(opened) {
      await waitFor(() => Date.now() > Date.parse(opened.commitDeadline) + 20, { what: 'the commit deadline to pass' });
    },
    closed: (roundId) => waitFor(async () => {
      const round = await fixture.round(roundId);
      return round.status === 'closed' ? round : undefined;
    }, { what: `round ${roundId} to close` }),
    async dispose() {
      for (const node of nodes) node.close();
      for (const instance of instances) await instance.stop();
      await spores.stop();
      await runtime.close();
      await bus.dispose();
      await db.dispose();
    },
  };
  return fixture;
}
