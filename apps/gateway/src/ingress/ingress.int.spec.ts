import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppRoute, ContractRegistry, ListRoutes } from '@mycelium/contracts';
import { CommandServer, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayService } from '../gateway.service.js';
import { routeTo, send, startReplica, type TestReplica } from './ingress.fixture.js';
import { DEFAULT_INGRESS_PORT, Ingress, ingressSettings } from './ingress.provider.js';

const logger = createLogger({ name: 'ingress-test', level: 'silent' });

describe('the gateway’s ingress', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let deployment: CommandServer;
  let gateway: RunningService;
  let ingressPort: number;
  const replicas: TestReplica[] = [];
  let routes: AppRoute[];

  /** Starts a gateway with MYCELIUM_INGRESS_PORT set to `port` (unset: undefined). */
  const startGateway = async (port: string | undefined) => {
    const previous = process.env.MYCELIUM_INGRESS_PORT;
    if (port === undefined) delete process.env.MYCELIUM_INGRESS_PORT;
    else process.env.MYCELIUM_INGRESS_PORT = port;
    try {
      return await startService(gatewayService, runtime, { port: 0 });
    } finally {
      if (previous === undefined) delete process.env.MYCELIUM_INGRESS_PORT;
      else process.env.MYCELIUM_INGRESS_PORT = previous;
    }
  };

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'ingress-'));
    const config = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
    runtime = await openRuntime({ config, topology: bus.topology, logger, relay: false });
    replicas.push(await startReplica('shop-1'), await startReplica('shop-2'));
    routes = [routeTo('shop', [replicas[0]!])];
    // Deployment, as far as the ingress can tell: ListRoutes on the real NATS.
    deployment = new CommandServer({ service: 'deployment', nc: bus.nc, registry: new ContractRegistry([ListRoutes]), topology: bus.topology, logger });
    deployment.handle(ListRoutes.subject, async () => ({ routes }));
    gateway = await startGateway('0');
    ingressPort = gateway.app.get(Ingress).port!;
  });
  afterAll(async () => {
    await gateway?.stop();
    await deployment?.stop();
    await Promise.all(replicas.map((replica) => replica.close()));
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('serves the apps deployment lists, on a port of its own', async () => {
    expect(ingressPort).not.toBe(gateway.port);
    const answer = await send(ingressPort, '/', { host: `shop.acme.localhost:${ingressPort}` });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-mycelium-replica']).toBe('shop-1');
  });

  it('takes new replicas in as soon as an app event goes by', async () => {
    routes = [routeTo('shop', replicas)];
    bus.nc.publish(bus.topology.subject('evt.deployment.app.scaled'), '{}');
    await waitFor(async () => (await send(ingressPort, '/apps/acme/shop/')).headers['x-mycelium-replica'] === 'shop-2', { what: 'the new replica to get traffic' });
  });

  it('shows its metrics on the gateway’s /metrics', async () => {
    await send(ingressPort, '/apps/acme/shop/');
    const text = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
    expect(text).toMatch(/mycelium_ingress_requests_total\{app="acme\/shop",status="200",service="gateway"\} [1-9]/);
  });

  it('refuses to start on a port it was given that another process holds, saying which setting to change', async () => {
    await expect(startGateway(String(ingressPort))).rejects.toThrow(/MYCELIUM_INGRESS_PORT.*another process uses it/);
  });

  it('listens elsewhere, and still serves, when the default port is taken', async () => {
    const holder = http.createServer();
    // Held by this test or by anything else already: either way the default port is taken.
    await new Promise<void>((resolve) => holder.once('error', () => resolve()).listen(DEFAULT_INGRESS_PORT, ingressSettings().host, resolve));
    try {
      const other = await startGateway(undefined);
      try {
        const port = other.app.get(Ingress).port!;
        expect(port).not.toBe(DEFAULT_INGRESS_PORT);
        expect((await send(port, '/apps/acme/shop/')).status).toBe(200);
      } finally {
        await other.stop();
      }
    } finally {
      await new Promise<void>((resolve) => (holder.listening ? holder.close(() => resolve()) : resolve()));
    }
  });

  it('stops with the gateway', async () => {
    await gateway.stop();
    await expect(send(ingressPort, '/apps/acme/shop/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('ingress settings', () => {
  it('listens on 8081 on the gateway’s host unless told otherwise', () => {
    expect(ingressSettings({})).toEqual({ port: 8081, portGiven: false, host: '127.0.0.1' });
    expect(ingressSettings({ MYCELIUM_INGRESS_PORT: '9090', HOST: '0.0.0.0' })).toEqual({ port: 9090, portGiven: true, host: '0.0.0.0' });
    expect(ingressSettings({ MYCELIUM_INGRESS_PORT: '0' }).port).toBe(0);
  });

  it('refuses a port that is not one, naming the setting', () => {
    for (const bad of ['http', '-1', '70000', '80.5']) expect(() => ingressSettings({ MYCELIUM_INGRESS_PORT: bad })).toThrow(/MYCELIUM_INGRESS_PORT must be a port number/);
  });
});
