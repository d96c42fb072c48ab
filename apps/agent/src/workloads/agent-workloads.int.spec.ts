import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { type LogsReply, type StartReplica, type WorkloadReport, WorkloadSubjects } from '@mycelium/contracts/workloads';
import { bootstrapPermissions, initNetwork, issueJoinToken, type Network } from '@mycelium/identity';
import { loadConfig, openRuntime, type RunningService, type Runtime, startService, Topology } from '@mycelium/messaging';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { openPostgresTestStore, startNatsServer, type TestNatsServer, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type AgentError } from '../agent.js';
import { processStartTime } from './pid-file.js';

const hello = join(import.meta.dirname, '..', '..', '..', '..', 'examples', 'hello', 'server.mjs');

const startMessage = (replicaId: string, overrides: Partial<StartReplica> = {}): StartReplica => ({
  replicaId,
  appId: 'app-hello',
  tenant: 'acme',
  app: 'hello',
  version: '1.0.0',
  command: [process.execPath, hello],
  env: {},
  health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, failureThreshold: 3 },
  resources: { cpu: 0.5, memoryMiB: 64, storageGiB: 0 },
  stopGraceMs: 5000,
  ...overrides,
});

/** Node agents on a secured grid (NATS in operator mode), told what to run over the bus as the deployment service tells them. */
describe('node agent workloads', () => {
  let network: Network;
  let nats: TestNatsServer;
  let services: NatsConnection;
  let dir: string;
  let store: TestStore;
  let runtime: Runtime;
  let spores: RunningService;
  const agents: Agent[] = [];

  const tokenFor = async () => {
    const id = randomUUID();
    const creds = await network.nats!.issueCreds(`join-${id}`, { permissions: bootstrapPermissions(id), expiresAt: new Date(Date.now() + 3_600_000) });
    return issueJoinToken(network.signer!, { tier: 'rhizomorph', ttlSeconds: 3000, id, nats: { servers: [nats.url], creds } }).token;
  };

  /** A joined agent, with its log lines, its fatal errors and every workload report it sends. */
  const startAgent = async (name: string) => {
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
        dataDir: join(dir, name),
        token: await tokenFor(),
        requestedTier: 'rhizomorph',
        region: 'test-1',
        tags: [],
        gossipHost: '127.0.0.1',
        gossipPort: 0,
        reportIntervalMs: 100,
        onFatal: (error) => fatal.push(error),
      },
      createLogger({ name: 'agent', level: 'debug', destination }),
    );
    agents.push(agent);
    const reports: WorkloadReport[] = [];
    services.subscribe(WorkloadSubjects.report(agent.nodeId), { callback: (_error, msg) => void reports.push(msg.json<WorkloadReport>()) });
    await services.flush();
    await agent.start();
    const replica = (replicaId: string) => reports.at(-1)?.replicas.find((entry) => entry.replicaId === replicaId);
    const reported = (replicaId: string, state: string) =>
      waitFor(() => (replica(replicaId)?.state === state ? replica(replicaId) : undefined), { what: `a report of ${replicaId} ${state} (now ${replica(replicaId)?.state})` });
    const send = (subject: (nodeId: string) => string, body: unknown) => services.publish(subject(agent.nodeId), typeof body === 'string' ? body : JSON.stringify(body));
    const logsOf = async (body: unknown) => (await services.request(WorkloadSubjects.logs(agent.nodeId), JSON.stringify(body), { timeout: 2000 })).json<LogsReply>();
    const logged = (msg: string | RegExp) => logs.filter((line) => (typeof msg === 'string' ? line.msg === msg : msg.test(String(line.msg))));
    return { agent, logs, fatal, reports, replica, reported, send, logsOf, logged };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-workloads-'));
    network = await initNetwork(join(dir, 'network'), { secured: true });
    nats = await startNatsServer({ config: network.nats!.serverConfig({ host: '127.0.0.1', port: 0, storeDir: '{{STORE}}' }).replace(/listen: "127\.0\.0\.1:0"/, 'listen: "127.0.0.1:{{PORT}}"') });
    services = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(network.servicesCreds!)) });
    store = await openPostgresTestStore();
    runtime = await openRuntime({
      config: { ...loadConfig({}, dir), natsUrl: nats.url, natsCreds: network.servicesCreds, databaseUrl: store.databaseUrl, schema: store.schema },
      topology: new Topology(),
      logger: createLogger({ name: 'agent-workloads-int', level: 'silent' }),
      relay: false,
    });
    spores = await startService(
      configuredSporesService({
        heartbeatIntervalMs: 200,
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
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.stop()));
  });
  afterAll(async () => {
    await services?.close();
    await spores?.stop();
    await runtime?.close();
    await store?.dispose();
    await nats?.stop();
  });

  it('runs a replica it is told to start and reports it healthy, at once and then every interval', async () => {
    // The agent joined with its token's credentials and traded them for its own: it listens on the new connection.
    const { send, reported, reports, replica, fatal } = await startAgent('runs');
    send(WorkloadSubjects.start, startMessage('hello-a'));
    const healthy = await reported('hello-a', 'healthy');
    expect(healthy).toMatchObject({ appId: 'app-hello', version: '1.0.0', restarts: 0, address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    const answer = (await (await fetch(`http://${healthy.address}/`)).json()) as { replica: string };
    expect(answer.replica).toBe('hello-a');
    // The same start again (the deployment service sends until it sees the replica) changes nothing.
    send(WorkloadSubjects.start, startMessage('hello-a'));
    const count = reports.length;
    await waitFor(() => reports.length >= count + 3, { what: 'reports with nothing new' });
    expect(replica('hello-a')).toEqual(healthy);
    expect(reports.at(-1)!.replicas).toHaveLength(1);
    expect(fatal).toEqual([]);
  });

  it('answers a logs request with the newest lines, and NOT_FOUND for a replica it does not run', async () => {
    const { send, reported, logsOf } = await startAgent('logs');
    send(WorkloadSubjects.start, startMessage('hello-b'));
    const { address } = await reported('hello-b', 'healthy');
    const port = address!.split(':')[1];

    expect(await logsOf({ replicaId: 'hello-b' })).toEqual({
      ok: true,
      replicaId: 'hello-b',
      lines: [{ at: expect.any(String), stream: 'stdout', line: `hello: replica hello-b of hello 1.0.0 listening on ${port}` }],
    });
    expect(await logsOf({ replicaId: 'hello-b', tail: 0 })).toEqual({ ok: true, replicaId: 'hello-b', lines: [] });
    expect(await logsOf({ replicaId: 'nobody-runs-this' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await logsOf({ replicaId: '../../etc' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('replicaId') } });
  });

  it('logs and ignores malformed starts and stops, and goes on running what it runs', async () => {
    const { send, reported, logged, fatal, replica } = await startAgent('malformed');
    send(WorkloadSubjects.start, 'not json at all');
    send(WorkloadSubjects.start, { ...startMessage('hello-c'), command: [] });
    send(WorkloadSubjects.start, { ...startMessage('../escape') });
    send(WorkloadSubjects.stop, { reason: 'no id' });
    await waitFor(() => logged(/^ignored a malformed replica (start|stop)/).length === 3 && logged('ignored a workload message that is not JSON').length === 1, {
      what: 'the malformed messages logged',
    });
    expect(logged(/^ignored a malformed replica start/).map((line) => line.field)).toEqual(['command', 'replicaId']);
    expect(logged(/^ignored a malformed replica stop/).map((line) => line.field)).toEqual(['replicaId']);

    send(WorkloadSubjects.start, startMessage('hello-c'));
    await reported('hello-c', 'healthy');
    expect(replica('../escape')).toBeUndefined();
    expect(fatal).toEqual([]);
  });

  it('stops a replica it is told to stop, and stops them all before it leaves', async () => {
    const { agent, send, reported, reports } = await startAgent('stops');
    send(WorkloadSubjects.start, startMessage('hello-d'));
    send(WorkloadSubjects.start, startMessage('hello-e'));
    const first = await reported('hello-d', 'healthy');
    const second = await reported('hello-e', 'healthy');

    send(WorkloadSubjects.stop, { replicaId: 'hello-d', reason: 'scaled down' });
    expect(await reported('hello-d', 'stopped')).toMatchObject({ message: 'stopped (scaled down): exited with code 0' });
    expect(processStartTime(first.pid!)).toBeUndefined();

    await agent.stop();
    expect(processStartTime(second.pid!)).toBeUndefined();
    // The grid heard how it ended before the node left.
    expect(reports.at(-1)!.replicas.find((entry) => entry.replicaId === 'hello-e')).toMatchObject({ state: 'stopped', message: 'stopped (the agent is stopping): exited with code 0' });
  });

  it('listens again on its own connection when it joins again as a member', async () => {
    const first = await startAgent('member');
    first.send(WorkloadSubjects.start, startMessage('hello-f'));
    await first.reported('hello-f', 'healthy');
    await first.agent.stop();

    // The same node, started again: it connects with its own credentials from the start.
    const { agent } = first;
    const again = new Agent(
      { dataDir: join(dir, 'member'), requestedTier: 'rhizomorph', region: 'test-1', tags: [], gossipHost: '127.0.0.1', gossipPort: 0, reportIntervalMs: 100 },
      createLogger({ name: 'agent', level: 'silent' }),
    );
    agents.push(again);
    expect(again.nodeId).toBe(agent.nodeId);
    const reports: WorkloadReport[] = [];
    services.subscribe(WorkloadSubjects.report(again.nodeId), { callback: (_error, msg) => void reports.push(msg.json<WorkloadReport>()) });
    await services.flush();
    await again.start();
    // A new run of the agent knows nothing of the last one's replicas.
    await waitFor(() => reports.length > 0, { what: 'a first report' });
    expect(reports[0]!.replicas).toEqual([]);
    services.publish(WorkloadSubjects.start(again.nodeId), JSON.stringify(startMessage('hello-g')));
    await waitFor(() => reports.at(-1)?.replicas.find((entry) => entry.replicaId === 'hello-g' && entry.state === 'healthy'), { what: 'hello-g healthy' });
  });
});
