import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IssueApiKey } from '@mycelium/contracts';
import { initNetwork, issueJoinToken } from '@mycelium/identity';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { GridLink, VirtualNode } from '@mycelium/node-client';
import { configuredSporesService, DEFAULT_TIER_RULES } from '@mycelium/spores';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayService } from './gateway.service.js';

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

  it('serves its OpenAPI document at /docs, and health without a key', async () => {
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
    const document = (await (await fetch(`${base}/docs-json`)).json()) as { openapi: string; paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/nodes', '/v1/nodes/{id}']));
    expect(document.components.securitySchemes).toHaveProperty('bearer');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
