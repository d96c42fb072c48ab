import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import pg from 'pg';
import { IssueApiKey } from '@mycelium/contracts';
import { initNetwork, issueJoinToken } from '@mycelium/identity';
import { CommandClient, EVENT_STORE, loadConfig, openRuntime, type RunningService, type Runtime, SERVICE_LOGGER, startService } from '@mycelium/messaging';
import { GridLink, VirtualNode } from '@mycelium/node-client';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { freePort, openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayService } from './gateway.service.js';
import { ApiKeyGuard, Public } from './keys/api-key.guard.js';
import { ApiKeys } from './keys/api-keys.js';

describe('gateway REST API', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  const services: RunningService[] = [];
  let base: string;
  let key: string;
  let node: VirtualNode;

  /** GET with `bearer` as the key (null: no Authorization header). */
  const get = async (path: string, bearer: string | null = key) => {
    const response = await fetch(`${base}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'gateway-'));
    const network = await initNetwork(join(dir, 'network'), { secured: false });
    const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
    runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'gateway-test', level: 'silent' }), relay: false });
    services.push(
      await startService(
        configuredSporesService({
          heartbeatIntervalMs: 2000,
          missesBeforeSuspect: 3,
          downGraceMs: 4000,
          maxClockSkewMs: 30_000,
          initialTrust: 0.5,
          tierRules: DEFAULT_TIER_RULES,
          tierEvaluationMs: 10_000,
          network,
          natsServers: [bus.natsUrl],
        }),
        runtime,
        { port: 0 },
      ),
    );
    const gateway = await startService(gatewayService, runtime, { port: 0 });
    services.push(gateway);
    base = `http://127.0.0.1:${gateway.port}`;
    const client = new CommandClient(bus.nc, bus.topology);
    const issued = await client.send(IssueApiKey, { name: 'test', scopes: ['nodes:read'] });
    if (!issued.ok) throw new Error(issued.error.message);
    key = issued.result.key;
    const token = issueJoinToken(network.signer!, { tier: 'rhizomorph', ttlSeconds: 600 }).token;
    node = new VirtualNode({
      link: new GridLink(bus.nc, (subject) => bus.topology.subject(subject)),
      network: network.info.networkId,
      token,
      capabilities: { cpuCores: 4, memoryMiB: 8192, diskGiB: 100, region: 'eu-north', tags: [], agentVersion: '0.1.0' },
    });
    await node.join();
  });
  afterAll(async () => {
    node?.close();
    for (const service of services.reverse()) await service.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('refuses a request without a key, or with a wrong one, saying how to authenticate', async () => {
    const missing = await get('/v1/nodes', null);
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/Authorization: Bearer/) } });
    expect((await get('/v1/nodes', `${key.slice(0, -4)}AAAA`)).status).toBe(401);
    expect((await get('/v1/nodes', 'not-a-key')).status).toBe(401);
  });

  it('refuses a key without the scope', async () => {
    const client = new CommandClient(bus.nc, bus.topology);
    const issued = await client.send(IssueApiKey, { name: 'reader', scopes: ['events:read'] });
    expect(issued.ok).toBe(true);
    const response = await get('/v1/nodes', issued.ok ? issued.result.key : null);
    expect(response).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
  });

  it('lists nodes with filters, and names an invalid or unknown filter', async () => {
    const listed = await get('/v1/nodes?region=eu-north&minFreeCpu=2');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ total: 1, nodes: [{ nodeId: node.nodeId, region: 'eu-north', status: 'alive' }] });
    expect(await get('/v1/nodes?minUptime=140')).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', field: 'minUptime' } } });
    expect(await get('/v1/nodes?colour=red')).toMatchObject({ status: 400, body: { error: { field: 'colour' } } });
  });

  it('shows one node with its history, 404 for an unknown one and 400 for a malformed id', async () => {
    const shown = await get(`/v1/nodes/${node.nodeId}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ node: { nodeId: node.nodeId }, history: [{ type: 'mycelium.spores.node-joined.v1' }] });
    expect(await get('/v1/nodes/ffffffffffffffffffff')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await get('/v1/nodes/xyz')).toMatchObject({ status: 400, body: { error: { field: 'nodeId' } } });
  });

  it('refuses a numeric filter that is not a number, naming it, instead of ignoring it', async () => {
    for (const [query, field] of [
      ['limit=abc', 'limit'],
      ['minFreeCpu=x', 'minFreeCpu'],
      ['minFreeMemoryMiB=', 'minFreeMemoryMiB'],
      ['minFreeDiskGiB=Infinity', 'minFreeDiskGiB'],
      ['minUptime=NaN', 'minUptime'],
      ['limit=1&limit=2', 'limit'],
    ]) {
      expect(await get(`/v1/nodes?${query}`), query).toMatchObject({
        status: 400,
        body: { error: { code: 'VALIDATION_FAILED', field, message: expect.stringContaining(`${field} must be a number`) } },
      });
    }
    expect((await get('/v1/nodes?limit=1&minFreeCpu=0.5')).status).toBe(200);
  });

  it('shows the newest events of a node with a long history, saying how many it has', async () => {
    const stream = `spores/node/${node.nodeId}`;
    const { lastPosition: newest } = await db.store.append(
      stream,
      Array.from({ length: 150 }, (_, i) => ({
        type: 'mycelium.spores.node-trust-changed.v1',
        data: { nodeId: node.nodeId, from: 0.5, to: 0.5, reason: `review ${i}`, at: new Date().toISOString() },
      })),
    );
    const shown = await get(`/v1/nodes/${node.nodeId}`);
    expect(shown.status).toBe(200);
    const history = shown.body.history as { position: string }[];
    expect(history).toHaveLength(100);
    expect(BigInt(history.at(-1)!.position) >= newest).toBe(true);
    expect(shown.body).toMatchObject({ historyTruncated: true, historyTotal: expect.any(Number) });
    expect(shown.body.historyTotal as number).toBeGreaterThanOrEqual(151);

    const few = await get(`/v1/nodes/${node.nodeId}?historyLimit=5`);
    expect(few.status).toBe(200);
    expect(few.body.history).toHaveLength(5);
    // The node is silent and may change status between the two reads: its history only grows.
    expect(few.body.historyTotal as number).toBeGreaterThanOrEqual(shown.body.historyTotal as number);
    for (const value of ['abc', '0', '1001', '2.5']) {
      expect(await get(`/v1/nodes/${node.nodeId}?historyLimit=${value}`), value).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', field: 'historyLimit' } } });
    }
  });

  it('serves its OpenAPI document at /docs, and health without a key', async () => {
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
    const document = (await (await fetch(`${base}/docs-json`)).json()) as { openapi: string; paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/nodes', '/v1/nodes/{id}']));
    expect(document.components.securitySchemes).toHaveProperty('bearer');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { apiKeys: { ready: true, state: 'following' } } });
  });

  it('answers every error with one body: a body too large, one that is not JSON, an unknown route, a service that does not answer', async () => {
    const client = new CommandClient(bus.nc, bus.topology);
    const issued = await client.send(IssueApiKey, { name: 'apps', tenant: 'acme', scopes: ['apps:write'] });
    if (!issued.ok) throw new Error(issued.error.message);
    const post = (body: string) =>
      fetch(`${base}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${issued.result.key}`, 'content-type': 'application/json' }, body });
    const huge = await post(JSON.stringify({ name: 'huge', padding: 'x'.repeat(10 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/too large.*1 MB/) } });
    const broken = await post('{"name": ');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: expect.stringMatching(/not valid JSON/) } });
    const unknown = await fetch(`${base}/v1/nowhere`, { headers: { authorization: `Bearer ${issued.result.key}` } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/no such route/) } });
    // No deployment service runs in this test: the command times out or finds no one, and says so.
    const alone = await post(JSON.stringify({ name: 'x' }));
    expect(alone.status).toBeGreaterThanOrEqual(500);
    expect(((await alone.json()) as { error: { code: string } }).error.code).toMatch(/SERVICE_UNAVAILABLE|TIMEOUT/);
  });
});

/** A route its author forgot to give a scope: the guard must keep it closed. */
@Controller('v1/forgotten')
class ForgottenController {
  @Get()
  list(): { secrets: string[] } {
    return { secrets: ['everything'] };
  }

  @Get('open')
  @Public()
  open(): { ok: boolean } {
    return { ok: true };
  }
}

describe('the API key guard', () => {
  let db: TestStore;
  let app: INestApplication;

  beforeAll(async () => {
    db = await openPostgresTestStore();
    @Module({
      controllers: [ForgottenController],
      providers: [
        ApiKeys,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: EVENT_STORE, useValue: db.store },
        { provide: SERVICE_LOGGER, useValue: createLogger({ name: 'guard-test', level: 'silent' }) },
      ],
    })
    class ForgottenModule {}
    app = await NestFactory.create(ForgottenModule, { logger: false });
    await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await db?.dispose();
  });

  it('closes a route that declares no scope, even to an admin key, and opens one marked public', async () => {
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const { key } = await app.get(ApiKeys).issue({ name: 'admin', scopes: ['admin'] });
    const forgotten = await fetch(`${base}/v1/forgotten`, { headers: { authorization: `Bearer ${key}` } });
    expect(forgotten.status).toBe(403);
    expect(await forgotten.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/GET \/v1\/forgotten declares no scope/) } });
    expect((await fetch(`${base}/v1/forgotten/open`)).status).toBe(200);
  });
});

describe('gateway starting while the event store is slow', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  const services: RunningService[] = [];
  let lock: pg.Client | undefined;

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'gateway-slow-'));
    const network = await initNetwork(join(dir, 'network'), { secured: false });
    const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
    runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'gateway-slow-test', level: 'silent' }), relay: false });
    services.push(
      await startService(
        configuredSporesService({
          heartbeatIntervalMs: 2000,
          missesBeforeSuspect: 3,
          downGraceMs: 4000,
          maxClockSkewMs: 30_000,
          initialTrust: 0.5,
          tierRules: DEFAULT_TIER_RULES,
          tierEvaluationMs: 10_000,
          network,
          natsServers: [bus.natsUrl],
        }),
        runtime,
        { port: 0 },
      ),
    );
  });
  afterAll(async () => {
    await lock?.end().catch(() => undefined);
    for (const service of services.reverse()) await service.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('answers 503 with Retry-After until it has loaded the keys, then accepts a key issued earlier instead of refusing it', async () => {
    // A key issued by an earlier gateway instance.
    const earlier = await startService(gatewayService, runtime, { port: 0 });
    const issued = await new CommandClient(bus.nc, bus.topology).send(IssueApiKey, { name: 'earlier', scopes: ['nodes:read'] });
    if (!issued.ok) throw new Error(issued.error.message);
    await earlier.stop();

    // The next instance starts while the events table is locked, so it cannot read the keys yet.
    lock = new pg.Client({ connectionString: db.databaseUrl });
    await lock.connect();
    await lock.query('BEGIN');
    await lock.query(`LOCK TABLE ${db.schema}.events IN ACCESS EXCLUSIVE MODE`);
    const port = await freePort();
    const starting = startService(gatewayService, runtime, { port });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, { what: 'the gateway listening' });
    const authorized = { headers: { authorization: `Bearer ${issued.result.key}` } };

    const readiness = await fetch(`${base}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.json()).toMatchObject({ status: 'starting', checks: { apiKeys: { ready: false } } });
    const early = await fetch(`${base}/v1/nodes`, authorized);
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toBe('5');
    expect(await early.json()).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/still loading API keys.*retry/) } });

    // A request that arrives while the keys load waits for them.
    const waiting = fetch(`${base}/v1/nodes`, authorized);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await lock.query('COMMIT');
    expect((await waiting).status).toBe(200);
    services.push(await starting);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});
