import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { configuredSporesService, DEFAULT_TIER_RULES, type SporesConfig } from '@mycelium/spores';
import { GetNode, type NodeView } from '@mycelium/contracts';
import { initNetwork, issueJoinToken, type Network } from '@mycelium/identity';
import { CommandClient, connectNats, loadConfig, openRuntime, type RunningService, type Runtime, startService, Topology } from '@mycelium/messaging';
import {
  freePort,
  openPostgresTestStore,
  startNatsServer,
  startProcess,
  type TestNatsServer,
  type TestProcess,
  type TestStore,
  waitFor,
} from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAgents } from '../../apps/cli/src/up/agents.js';
import { LogSink } from '../../apps/cli/src/up/log-sink.js';

const agentMain = join(import.meta.dirname, '..', '..', 'apps', 'agent', 'dist', 'main.js');
const HEARTBEAT_MS = 300;

describe('node agent', () => {
  let db: TestStore;
  let nats: TestNatsServer;
  let network: Network;
  let runtime: Runtime;
  let spores: RunningService;
  let nc: NatsConnection;
  let client: CommandClient;
  let token: string;
  let seedFile: string;
  let dir: string;
  const agents: TestProcess[] = [];

  const startAgent = (dataDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    const agent = startProcess('agent', agentMain, ['--data-dir', dataDir, '--region', 'test-1', ...extra], { NATS_URL: '', MYCELIUM_JOIN_TOKEN: '', ...env });
    agents.push(agent);
    return agent;
  };
  const joined = (agent: TestProcess) => agent.waitForLog((line) => line.msg === 'joined the grid');
  const viewOf = async (nodeId: string): Promise<NodeView | undefined> => {
    const reply = await client.send(GetNode, { nodeId });
    return reply.ok ? reply.result.node : undefined;
  };

  beforeAll(async () => {
    db = await openPostgresTestStore();
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'agent-e2e-'));
    network = await initNetwork(join(dir, 'network'), { secured: false });
    seedFile = join(dir, 'seed.json');
    token = issueJoinToken(network.signer!, { tier: 'sclerotia', ttlSeconds: 3600, nats: { servers: [nats.url] } }).token;
    const config: SporesConfig = {
      heartbeatIntervalMs: HEARTBEAT_MS,
      missesBeforeSuspect: 3,
      downGraceMs: 1000,
      maxClockSkewMs: 10_000,
      initialTrust: 0.5,
      tierRules: DEFAULT_TIER_RULES,
      tierEvaluationMs: 1000,
      network,
      seedExport: seedFile,
      natsServers: [nats.url],
    };
    const gridConfig = { ...loadConfig({}, dir), natsUrl: nats.url, databaseUrl: db.databaseUrl, schema: db.schema };
    runtime = await openRuntime({ config: gridConfig, topology: new Topology(), logger: createLogger({ name: 'agent-e2e', level: 'silent' }), relay: false });
    spores = await startService(configuredSporesService(config), runtime, { port: 0 });
    nc = await connectNats({ url: nats.url, name: 'agent-e2e' });
    client = new CommandClient(nc, new Topology());
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.kill('SIGKILL')));
    await nc?.close();
    await spores?.stop();
    await runtime?.close();
    await nats?.stop();
    await db?.dispose();
  });

  it('joins with its own key and measured capabilities, stays alive, and leaves on SIGTERM', async () => {
    const dataDir = join(dir, 'node-a');
    const agent = startAgent(dataDir, ['--token', token]);
    const nodeId = (await joined(agent)).nodeId as string;
    expect(nodeId).toMatch(/^[0-9a-f]{20}$/);
    const key = JSON.parse(readFileSync(join(dataDir, 'node-key.json'), 'utf8'));
    expect(key.privateKeyPem).toContain('PRIVATE KEY');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 5));
    expect(await viewOf(nodeId)).toMatchObject({ status: 'alive', tier: 'rhizomorph', region: 'test-1', capabilities: { cpuCores: expect.any(Number) } });
    expect((await viewOf(nodeId))!.lastSeenAt).toBeDefined();

    expect(await agent.kill('SIGTERM')).toBe(0);
    expect((await viewOf(nodeId))!.status).toBe('left');

    // It comes back without a token: it remembers its membership.
    const again = startAgent(dataDir);
    expect((await joined(again)).nodeId).toBe(nodeId);
    await waitFor(async () => (await viewOf(nodeId))?.status === 'alive', { what: 'the rejoin' });
    await again.kill('SIGTERM');
  });

  it('is suspected, then declared down, when its process dies, and recovers when it comes back', async () => {
    const dataDir = join(dir, 'node-k');
    const agent = startAgent(dataDir, ['--token', token]);
    const nodeId = (await joined(agent)).nodeId as string;
    expect(await agent.kill('SIGKILL')).toBe('SIGKILL');
    await waitFor(async () => (await viewOf(nodeId))?.status === 'suspected', { what: 'suspected', intervalMs: 50 });
    await waitFor(async () => (await viewOf(nodeId))?.status === 'down', { what: 'down', intervalMs: 50 });
    const back = startAgent(dataDir);
    await joined(back);
    await waitFor(async () => (await viewOf(nodeId))?.status === 'alive', { what: 'recovered' });
    await back.kill('SIGTERM');
  });

  it('rides out a NATS outage and keeps heartbeating when it returns, with no stale heartbeat', async () => {
    const agent = startAgent(join(dir, 'node-b'), ['--token', token]);
    const nodeId = (await joined(agent)).nodeId as string;
    await nats.stop();
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 4));
    await nats.start();
    await agent.waitForLog((line) => line.msg === 'NATS is back', 20_000);
    await waitFor(async () => (await viewOf(nodeId))?.status === 'alive', { what: 'the node alive again', timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 5));
    expect((await viewOf(nodeId))?.status).toBe('alive');
    const refusals = (await db.store.readStream(`spores/security/${nodeId}`)).map((event) => (event.data as { code: string }).code);
    expect(refusals).not.toContain('STALE_TIMESTAMP');
    // The spores service lost NATS too: it judged nobody's silence while it could not hear them.
    const transitions = (await db.store.readStream(`spores/node/${nodeId}`)).map((event) => event.type.split('.')[2]);
    expect(transitions).not.toContain('node-suspected');
    expect(transitions).not.toContain('node-declared-down');
    await agent.kill('SIGTERM');
  });

  it('boots from the signed seed snapshot when its NATS is unreachable, and refuses a tampered one', async () => {
    await waitFor(() => {
      try {
        return readFileSync(seedFile, 'utf8').length > 0;
      } catch {
        return false;
      }
    }, { what: 'a seed snapshot' });
    const deadNats = `nats://127.0.0.1:${await freePort()}`;
    const agent = startAgent(join(dir, 'node-c'), ['--token', token, '--nats', deadNats, '--seed', seedFile]);
    await agent.waitForLog((line) => line.msg === 'NATS is unreachable: booting from the seed snapshot');
    const nodeId = (await joined(agent)).nodeId as string;
    await waitFor(async () => (await viewOf(nodeId))?.status === 'alive');
    await agent.kill('SIGTERM');

    const envelope = JSON.parse(readFileSync(seedFile, 'utf8'));
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64url').toString());
    const tampered = join(dir, 'tampered.json');
    writeFileSync(tampered, JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify({ ...payload, natsServers: ['nats://attacker:4222'] })).toString('base64url') }));
    const fooled = startAgent(join(dir, 'node-d'), ['--token', token, '--nats', deadNats, '--seed', tampered]);
    expect(await fooled.exited).toBe(1);
    expect(fooled.text.join('\n')).toMatch(/not signed by network/);
  });

  it('says why it cannot join with an expired token, and exits', async () => {
    const expired = issueJoinToken(network.signer!, { tier: 'rhizomorph', ttlSeconds: 60, now: new Date(Date.now() - 3_600_000), nats: { servers: [nats.url] } }).token;
    const agent = startAgent(join(dir, 'node-e'), ['--token', expired]);
    expect(await agent.exited).toBe(1);
    expect(agent.text.join('\n')).toMatch(/node [0-9a-f]{20} has never joined network net-[0-9a-f]+ and its join token expired: get a new one with `myc node token`/);
  });

  it('takes its token from MYCELIUM_JOIN_TOKEN, and advertises the gossip address it is told', async () => {
    const agent = startAgent(join(dir, 'node-f'), ['--gossip-advertise', 'https://node-f.example.org:7946'], { MYCELIUM_JOIN_TOKEN: token });
    const nodeId = (await joined(agent)).nodeId as string;
    await waitFor(async () => (await viewOf(nodeId))?.status === 'alive', { what: 'the node alive' });
    expect((await viewOf(nodeId))!.gossipAddress).toBe('https://node-f.example.org:7946');
    await agent.kill('SIGTERM');

    const refused = startAgent(join(dir, 'node-g'), ['--token', token, '--gossip-advertise', 'node-g:7946']);
    expect(await refused.exited).toBe(1);
    expect(refused.text.join('\n')).toMatch(/--gossip-advertise must be an http\(s\) URL/);
  });

  it('myc up hands its local agents their token in the environment, not on their command line', async () => {
    const home = mkdtempSync(join(tmpdir(), 'up-agents-'));
    const sink = new LogSink(join(home, 'logs', 'agents.log'), new Writable({ write: (_chunk, _encoding, done) => done() }), 'json');
    const local = await startLocalAgents({ count: 2, home, network, natsUrl: nats.url, namespace: '', sink, onExit: () => undefined, agentMain });
    try {
      expect(local.nodeIds).toHaveLength(2);
      const commandLines = readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .map((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
          } catch {
            return '';
          }
        })
        .filter((commandLine) => commandLine.includes(home));
      expect(commandLines).toHaveLength(2);
      // Every join token starts with the same JWT header.
      const header = token.split('.')[0]!;
      for (const commandLine of commandLines) {
        expect(commandLine).not.toContain('--token');
        expect(commandLine).not.toContain(header);
      }
    } finally {
      await local.stop();
    }
  });
});
