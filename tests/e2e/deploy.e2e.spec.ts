import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decimal } from 'decimal.js';
import {
  type AppView,
  GetAccount,
  IssueApiKey,
  RetireReplica,
  type WorkloadReport,
  WorkloadSubjects,
} from '@mycelium/contracts';
import { initNetwork, type Network } from '@mycelium/identity';
import { CommandClient } from '@mycelium/messaging';
import { freePort, openPostgresTestStore, openTestBus, startProcess, type TestBus, type TestProcess, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAgents, startLocalAgents } from '../../apps/cli/src/up/agents.js';
import { LogSink } from '../../apps/cli/src/up/log-sink.js';
import { startPriceFeed, type PriceFeed } from './price-feed.fixture.js';

const root = join(import.meta.dirname, '..', '..');
const mainOf = (service: string) => join(root, 'apps', service, 'dist', 'main.js');
const hello = join(root, 'examples', 'hello', 'server.mjs');
const PERIOD_MS = 4000;

/** The hello example as a tenant would deploy it; small, so many fit on this machine's nodes. */
function helloSpec(overrides: Record<string, unknown> = {}, env: { name: string; value: string; secret?: boolean }[] = []) {
  return {
    name: 'hello',
    version: '1.0.0',
    replicas: 3,
    workload: { command: [process.execPath, hello] },
    resources: { cpu: 0.01, memoryMiB: 32, storageGiB: 0 },
    env: [{ name: 'API_TOKEN', value: 's3cret-value', secret: true }, ...env],
    health: { path: '/healthz', intervalMs: 200, timeoutMs: 200, failureThreshold: 3, startTimeoutMs: 4000 },
    stopGraceMs: 1000,
    ...overrides,
  };
}

interface LedgerEntry {
  debit: string;
  credit: string;
  amount: string;
}

describe('deploy and pay (real services, agents and processes)', () => {
  let db: TestStore;
  let bus: TestBus;
  let network: Network;
  let home: string;
  let prices: PriceFeed;
  let agents: LocalAgents;
  let client: CommandClient;
  let gateway: string;
  let ingressPort: number;
  const services = new Map<string, TestProcess>();
  const keys: Record<string, string> = {};
  const reports = new Map<string, WorkloadReport>();

  const env = () => ({
    NATS_URL: bus.natsUrl,
    DATABASE_URL: db.databaseUrl,
    MYCELIUM_DB_SCHEMA: db.schema,
    MYCELIUM_NAMESPACE: bus.topology.namespace,
    MYCELIUM_HOME: home,
    MYCELIUM_NETWORK_DIR: network.dir,
    MYCELIUM_HEARTBEAT_MS: '500',
    MYCELIUM_BILLING_PERIOD_MS: String(PERIOD_MS),
    MYCELIUM_PRICE_SOURCES: prices.urls.join(','),
    MYCELIUM_INGRESS_PORT: String(ingressPort),
    MYCELIUM_SAGA_RESEND_MS: '1000',
    PORT: '0',
    LOG_LEVEL: 'info',
  });

  async function start(service: string): Promise<TestProcess> {
    const process = startProcess(service, mainOf(service), [], env());
    services.set(service, process);
    const up = await process.waitForLog((line) => line.msg === `${service} is up`, 60_000);
    if (service === 'gateway') gateway = `http://127.0.0.1:${up.port as number}`;
    return process;
  }

  const api = async (method: string, path: string, key: string, body?: unknown) => {
    const response = await fetch(`${gateway}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, any> };
  };

  const appOf = async (appId: string, key = keys.acme!) => (await api('GET', `/v1/apps/${appId}`, key)).body as unknown as AppView;
  const settled = (appId: string, key = keys.acme!) =>
    waitFor(
      async () => {
        const app = await appOf(appId, key);
        return app.rollout === undefined && ['active', 'failed'].includes(app.status) && app;
      },
      { timeoutMs: 60_000, what: `app ${appId} to settle` },
    );

  /** Every ledger entry billing recorded, from its events in the log. */
  async function ledger(): Promise<{ type: string; data: Record<string, any>; entries: LedgerEntry[] }[]> {
    const { events } = await db.store.readAll({ streamPrefixes: ['billing/account/'], maxCount: 100_000 });
    return events.map((event) => {
      const data = event.data as Record<string, any>;
      return { type: event.type, data, entries: (data.entries ?? []) as LedgerEntry[] };
    });
  }

  /** Debits minus credits by account; the whole ledger must sum to zero. */
  async function balances(): Promise<Map<string, Decimal>> {
    const totals = new Map<string, Decimal>();
    for (const { entries } of await ledger()) {
      for (const entry of entries) {
        totals.set(entry.debit, (totals.get(entry.debit) ?? new Decimal(0)).plus(entry.amount));
        totals.set(entry.credit, (totals.get(entry.credit) ?? new Decimal(0)).minus(entry.amount));
      }
    }
    const sum = [...totals.values()].reduce((a, b) => a.plus(b), new Decimal(0));
    expect(sum.isZero()).toBe(true);
    return totals;
  }

  /** What billing did with one reservation, by event name. */
  async function reservationHistory(reservationId: string): Promise<string[]> {
    const money = ['credits-reserved', 'credits-converted', 'reservation-captured', 'reservation-released'];
    return (await ledger())
      .filter(({ data }) => data.reservationId === reservationId)
      .map(({ type }) => type.replace(/^mycelium\.billing\./, '').replace(/\.v\d+$/, ''))
      .filter((name) => money.includes(name));
  }

  /**
   * Waits for a reservation's history to be `expected`, then checks it stays so: reading the whole log
   * lags a moment behind writers in flight elsewhere in the database.
   */
  async function historyBecomes(reservationId: string, expected: string[]): Promise<void> {
    await waitFor(async () => JSON.stringify(await reservationHistory(reservationId)) === JSON.stringify(expected), {
      timeoutMs: 10_000,
      what: `reservation ${reservationId} to read ${expected.join(', ')}`,
    }).catch(async () => expect(await reservationHistory(reservationId)).toEqual(expected));
  }

  /** Replicas of an app that some node still runs. */
  const running = (appId: string) =>
    [...reports.values()].flatMap((report) => report.replicas).filter((replica) => replica.appId === appId && !['stopped', 'failed'].includes(replica.state));

  function viaIngress(path: string, host?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: ingressPort, path, headers: host ? { host } : {} }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    home = mkdtempSync(join(tmpdir(), 'deploy-e2e-'));
    network = await initNetwork(join(home, 'network'), { secured: false });
    prices = await startPriceFeed(['0.0100', '0.0102']);
    ingressPort = await freePort();
    for (const service of ['spores', 'billing', 'deployment', 'gateway']) await start(service);
    client = new CommandClient(bus.nc, bus.topology);
    for (const [tenant, scopes] of [
      ['admin', ['admin']],
      ['acme', ['apps:write']],
      ['other', ['apps:write']],
      ['poor', ['apps:write']],
    ] as const) {
      const reply = await client.send(IssueApiKey, { name: `e2e ${tenant}`, ...(tenant === 'admin' ? {} : { tenant }), scopes: [...scopes] });
      if (!reply.ok) throw new Error(reply.error.message);
      keys[tenant] = reply.result.key;
    }
    const sink = new LogSink(join(home, 'logs', 'agents.log'), { write: () => true } as unknown as NodeJS.WritableStream, 'json');
    agents = await startLocalAgents({ count: 3, home, network, natsUrl: bus.natsUrl, namespace: bus.topology.namespace, sink, onExit: () => undefined, agentMain: mainOf('agent') });
    bus.nc.subscribe(bus.topology.subject(WorkloadSubjects.allReports), {
      callback: (_error, msg) => {
        const report = msg.json<WorkloadReport>();
        reports.set(report.nodeId, report);
      },
    });
    // Credits for acme, once, whatever the reference is sent.
    for (let i = 0; i < 2; i += 1) {
      const topUp = await api('POST', '/v1/account/credits', keys.admin!, { tenant: 'acme', amount: '100', reference: 'e2e-welcome' });
      expect(topUp.status).toBe(201);
    }
    expect((await api('POST', '/v1/account/credits', keys.acme!, { tenant: 'acme', amount: '5', reference: 'self-service' })).status).toBe(403);
    await api('POST', '/v1/account/credits', keys.admin!, { tenant: 'poor', amount: '0.00000001', reference: 'e2e-crumbs' });
  }, 240_000);

  afterAll(async () => {
    await agents?.stop();
    await Promise.all([...services.values()].map((service) => service.kill('SIGTERM')));
    await prices?.close();
    await bus?.dispose();
    await db?.dispose();
  }, 60_000);

  let helloId: string;

  it('deploys hello with 3 replicas on 3 agents; 30 requests through the ingress reach all 3; the balance is top-up − reservation − metering, exactly', async () => {
    const deployed = await api('POST', '/v1/apps', keys.acme!, helloSpec());
    expect(deployed.status).toBe(202);
    helloId = deployed.body.appId as string;
    const app = await settled(helloId);
    expect(app.status).toBe('active');
    expect(new Set(app.replicas.map((replica) => replica.nodeId)).size).toBe(3);

    const seen = new Set<string>();
    for (let i = 0; i < 30; i += 1) {
      const response = await viaIngress('/apps/acme/hello/');
      expect(response.status).toBe(200);
      seen.add((JSON.parse(response.body) as { replica: string }).replica);
    }
    expect([...seen].sort()).toEqual(app.replicas.map((replica) => replica.replicaId).sort());
    expect((await viaIngress('/', 'hello.acme.localhost')).status).toBe(200);

    // The secret reached the replica's environment, and the log holds only its ciphertext.
    const { events } = await db.store.readAll({ streamPrefixes: [`deployment/app/${helloId}`], maxCount: 1000 });
    expect(JSON.stringify(events.map((event) => event.data))).not.toContain('s3cret-value');
    const steps = events.map((event) => event.type.replace(/^mycelium\.deployment\./, '').replace(/\.v\d+$/, ''));
    expect(steps.slice(0, 5)).toEqual(['app-deploy-requested', 'app-credits-reserved', 'app-deploy-queued', 'app-credits-converted', 'app-replicas-scheduled']);
    expect(steps.at(-1)).toBe('app-activated');

    // Metering charges while it runs; the balance is what the ledger says, to the last decimal.
    await waitFor(async () => (await ledger()).some(({ type, data }) => type.includes('usage-charged') && data.appId === helloId), { timeoutMs: PERIOD_MS * 4, what: 'a usage charge' });
    await waitFor(
      async () => {
        const history = await ledger();
        const reserved = history.find(({ type, data }) => type.includes('credits-reserved') && data.appId === helloId)!.data.total as string;
        const metered = history
          .filter(({ type, data }) => type.includes('usage-charged') && data.tenant === 'acme')
          .reduce((sum, { data }) => sum.plus(data.total as string), new Decimal(0));
        const account = await client.send(GetAccount, { tenant: 'acme' });
        if (!account.ok) throw new Error(account.error.message);
        return new Decimal(account.result.balance).equals(new Decimal(100).minus(reserved).minus(metered));
      },
      { timeoutMs: PERIOD_MS * 3, what: 'the balance to be top-up − reservation − metering' },
    );
    await balances();
  });

  it('a version whose health check never passes fails the deploy: its replicas stop and the reservation is refunded once', async () => {
    const deployed = await api('POST', '/v1/apps', keys.acme!, helloSpec({ name: 'sick' }, [{ name: 'HELLO_HEALTHY', value: 'false' }]));
    expect(deployed.status).toBe(202);
    const app = await settled(deployed.body.appId as string);
    expect(app).toMatchObject({ status: 'failed', lastFailure: { code: 'UNHEALTHY' } });
    await historyBecomes(deployed.body.rolloutId as string, ['credits-reserved', 'credits-converted', 'reservation-released']);
    await waitFor(() => running(app.appId).length === 0, { timeoutMs: 20_000, what: 'the sick replicas to stop' });
    await waitFor(async () => (await balances()).get('tenant:acme:reserved')?.isZero() ?? true, { timeoutMs: 10_000, what: 'nothing reserved' });
  });

  it('a rolling update to a version that never becomes healthy returns to the old version, refunded once', async () => {
    const update = await api('PUT', `/v1/apps/${helloId}`, keys.acme!, helloSpec({ version: '2.0.0' }, [{ name: 'HELLO_HEALTHY', value: 'false' }]));
    expect(update.status).toBe(202);
    await waitFor(async () => (await appOf(helloId)).rollout === undefined, { timeoutMs: 60_000, what: 'the update to end' });
    const app = await waitFor(
      async () => {
        const current = await appOf(helloId);
        return current.healthyReplicas === 3 && current.replicas.every((replica) => replica.version === '1.0.0') && current;
      },
      { timeoutMs: 30_000, what: 'three healthy replicas of 1.0.0' },
    );
    expect(app).toMatchObject({ status: 'active', version: '1.0.0', lastFailure: { code: 'UNHEALTHY' } });
    await historyBecomes(update.body.rolloutId as string, ['credits-reserved', 'credits-converted', 'reservation-released']);
    expect((await viaIngress('/apps/acme/hello/')).status).toBe(200);
    await waitFor(() => running(helloId).every((replica) => replica.version === '1.0.0'), { timeoutMs: 20_000, what: 'the 2.0.0 replicas to stop' });
  });

  it('rolls an app back to the version and scale it had at a moment, through new events', async () => {
    const deployed = await api('POST', '/v1/apps', keys.acme!, helloSpec({ name: 'timeline', replicas: 1 }));
    expect(deployed.status).toBe(202);
    const appId = deployed.body.appId as string;
    const v1 = await waitFor(async () => ((await appOf(appId)).status === 'active' ? appOf(appId) : undefined), { timeoutMs: 60_000, what: 'timeline 1.0.0 active' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const moment = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await api('PUT', `/v1/apps/${appId}`, keys.acme!, helloSpec({ name: 'timeline', version: '2.0.0', replicas: 2 }))).status).toBe(202);
    await waitFor(async () => {
      const app = await appOf(appId);
      return app.status === 'active' && app.version === '2.0.0' && app.healthyReplicas === 2;
    }, { timeoutMs: 60_000, what: 'timeline 2.0.0 × 2 active' });
    const before = (await appOf(appId)).streamVersion;

    const rolled = await api('POST', `/v1/apps/${appId}/rollback`, keys.acme!, { to: moment });
    expect(rolled).toMatchObject({ status: 200, body: { action: 'update', version: '1.0.0', replicas: 1 } });
    const back = await waitFor(async () => {
      const app = await appOf(appId);
      return app.status === 'active' && app.version === '1.0.0' && app.healthyReplicas === 1 ? app : undefined;
    }, { timeoutMs: 60_000, what: 'timeline back on 1.0.0 × 1' });
    expect(back).toMatchObject({ version: v1.version, desiredReplicas: v1.desiredReplicas });
    // History is kept: the rollback is new events after the old ones.
    expect(back.streamVersion).toBeGreaterThan(before);
    expect(await api('POST', `/v1/apps/${appId}/rollback`, keys.acme!, { to: moment })).toMatchObject({ status: 200, body: { action: 'none' } });
    expect(await api('POST', `/v1/apps/${appId}/rollback`, keys.acme!, { to: '2000-01-01T00:00:00Z' })).toMatchObject({ status: 404, body: { error: { field: 'to' } } });
    expect(await api('POST', `/v1/apps/${appId}/rollback`, keys.acme!, { to: 'yesterday' })).toMatchObject({ status: 400, body: { error: { field: 'to' } } });
    expect((await api('POST', `/v1/apps/${appId}/stop`, keys.acme!)).status).toBe(200);
  });

  it('insufficient credits: refused, nothing scheduled, nothing charged', async () => {
    const before = (await ledger()).filter(({ data }) => data.tenant === 'poor').length;
    const refused = await api('POST', '/v1/apps', keys.poor!, helloSpec());
    expect(refused.status).toBe(402);
    expect(refused.body.error).toMatchObject({ code: 'INSUFFICIENT_CREDITS' });
    expect(refused.body.error.message).toMatch(/credits/);
    const appId = refused.body.error.details.appId as string;
    const { events } = await db.store.readAll({ streamPrefixes: [`deployment/app/${appId}`], maxCount: 100 });
    expect(events.map((event) => event.type)).not.toContain('mycelium.deployment.app-replicas-scheduled.v1');
    expect((await ledger()).filter(({ data }) => data.tenant === 'poor')).toHaveLength(before);
    await balances();
  });

  for (const victim of ['deployment', 'billing'] as const) {
    it(`SIGKILL ${victim} in the middle of a saga and start it again: it completes, charged once`, async () => {
      const deployed = await api('POST', '/v1/apps', keys.acme!, helloSpec({ name: `survivor-${victim}`, replicas: 2 }));
      expect(deployed.status).toBe(202);
      await services.get(victim)!.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await start(victim);
      const app = await settled(deployed.body.appId as string);
      expect(app.status).toBe('active');
      await historyBecomes(deployed.body.rolloutId as string, ['credits-reserved', 'credits-converted', 'reservation-captured']);
      await balances();
    });
  }

  it('bad input gets a clear 4xx naming the problem, and nothing is half-applied', async () => {
    const before = ((await api('GET', '/v1/apps', keys.acme!)).body.apps as AppView[]).length;
    const missing = await api('POST', '/v1/apps', keys.acme!, { name: 'nameless-fields' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(missing.body.error.field).toMatch(/version|replicas|workload|resources/);
    const negative = await api('POST', '/v1/apps', keys.acme!, helloSpec({ name: 'negative', replicas: -1 }));
    expect(negative).toMatchObject({ status: 400, body: { error: { field: 'replicas' } } });
    const strategy = await api('POST', '/v1/apps', keys.acme!, helloSpec({ name: 'strategic', strategy: 'random' }));
    expect(strategy).toMatchObject({ status: 400, body: { error: { field: 'strategy' } } });
    const image = await api('POST', '/v1/apps', keys.acme!, helloSpec({ name: 'imaged', workload: { image: 'nginx:alpine' } }));
    expect(image).toMatchObject({ status: 422, body: { error: { code: 'RUNTIME_UNAVAILABLE', field: 'workload.image' } } });
    const huge = await api('POST', '/v1/apps', keys.acme!, JSON.stringify({ ...helloSpec({ name: 'huge' }), padding: 'x'.repeat(10 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const foreign = await api('GET', `/v1/apps/${helloId}`, keys.other!);
    expect(foreign.status).toBe(404);
    const foreignScale = await api('POST', `/v1/apps/${helloId}/scale`, keys.other!, { replicas: 1 });
    expect(foreignScale.status).toBe(404);
    const badScale = await api('POST', `/v1/apps/${helloId}/scale`, keys.acme!, { replicas: 'many' });
    expect(badScale).toMatchObject({ status: 400, body: { error: { field: 'replicas' } } });
    expect((await appOf(helloId)).desiredReplicas).toBe(3);
    expect(((await api('GET', '/v1/apps', keys.acme!)).body.apps as AppView[]).length).toBe(before);
  });

  it('replaces a replica healing retires, and stops the old one on its node', async () => {
    const before = await appOf(helloId);
    const victim = before.replicas[0]!;
    const retired = await client.send(RetireReplica, { appId: helloId, replicaId: victim.replicaId, reason: 'crashes too often' });
    expect(retired).toEqual({ ok: true, result: { retired: true } });
    const again = await client.send(RetireReplica, { appId: helloId, replicaId: victim.replicaId, reason: 'crashes too often' });
    expect(again).toEqual({ ok: true, result: { retired: false } });
    await waitFor(
      async () => {
        const app = await appOf(helloId);
        return app.healthyReplicas === 3 && !app.replicas.some((replica) => replica.replicaId === victim.replicaId);
      },
      { timeoutMs: 30_000, what: 'a replacement' },
    );
    await waitFor(() => !running(helloId).some((replica) => replica.replicaId === victim.replicaId), { timeoutMs: 20_000, what: 'the retired replica to stop' });
  });

  it('scales, stops and answers the seeds’ API', async () => {
    const listed = await api('GET', '/api/apps/list_apps', keys.acme!);
    expect(listed.status).toBe(200);
    expect((listed.body.apps as { app_id: string }[]).map((app) => app.app_id)).toContain(helloId);
    const scaled = await api('POST', '/api/apps/scale_app', keys.acme!, { app_id: helloId, replicas: 2 });
    expect(scaled.status).toBe(200);
    await waitFor(async () => (await appOf(helloId)).replicas.length === 2, { timeoutMs: 20_000, what: 'two replicas' });
    const stopped = await api('POST', `/v1/apps/${helloId}/stop`, keys.acme!);
    expect(stopped.status).toBe(200);
    await waitFor(async () => (await appOf(helloId)).status === 'stopped', { timeoutMs: 20_000, what: 'the app to stop' });
    await waitFor(() => running(helloId).length === 0, { timeoutMs: 20_000, what: 'its processes to end' });
    expect((await viaIngress('/apps/acme/hello/')).status).toBe(404);
    await balances();
  });
});
