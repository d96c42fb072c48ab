import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configuredBillingService, DEFAULT_CURRENCY, DEFAULT_RATE_CARD } from '@mycelium/billing';
import { type ApiKeyScope, IssueApiKey, TopUpCredits } from '@mycelium/contracts';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, uniqueName } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayService } from '../gateway.service.js';

describe('gateway - account and credits', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let client: CommandClient;
  const services: RunningService[] = [];
  let base: string;
  const keys: Record<'admin' | 'tenant' | 'untenanted' | 'reader', string> = { admin: '', tenant: '', untenanted: '', reader: '' };
  const acme = uniqueName('acme-');
  const other = uniqueName('other-');

  async function call(method: 'GET' | 'POST', path: string, key: string | null, body?: unknown) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as Record<string, any> };
  }

  async function issue(scopes: ApiKeyScope[], tenant?: string): Promise<string> {
    const issued = await client.send(IssueApiKey, { name: `test-${scopes.join('-')}`, scopes, ...(tenant ? { tenant } : {}) });
    if (!issued.ok) throw new Error(issued.error.message);
    return issued.result.key;
  }

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'gateway-account-'));
    const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
    runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'gateway-account-test', level: 'silent' }), relay: false });
    services.push(
      await startService(
        configuredBillingService({
          periodMs: 60_000,
          graceMs: 300_000,
          lowBalancePeriods: 3,
          rates: DEFAULT_RATE_CARD,
          currency: DEFAULT_CURRENCY,
          priceSources: ['fixed:0.01'],
          maxSlippagePercent: '5',
          priceTimeoutMs: 2000,
        }),
        runtime,
        { port: 0 },
      ),
    );
    const gateway = await startService(gatewayService, runtime, { port: 0 });
    services.push(gateway);
    base = `http://127.0.0.1:${gateway.port}`;
    client = new CommandClient(bus.nc, bus.topology);
    keys.admin = await issue(['admin']);
    keys.tenant = await issue(['apps:write'], acme);
    keys.untenanted = await issue(['apps:write']);
    keys.reader = await issue(['nodes:read'], acme);
  });
  afterAll(async () => {
    for (const service of services.reverse()) await service.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('adds credits with an admin key, once per reference, answering 201', async () => {
    const topUp = { amount: '25.00', reference: 'invoice-1', tenant: acme };
    expect(await call('POST', '/v1/account/credits', keys.admin, topUp)).toEqual({ status: 201, body: { tenant: acme, credited: true, balance: '25' } });
    expect(await call('POST', '/v1/account/credits', keys.admin, topUp)).toEqual({ status: 201, body: { tenant: acme, credited: false, balance: '25' } });
    expect(await call('POST', '/v1/account/credits', keys.admin, { amount: '1', reference: 'invoice-2' })).toMatchObject({ status: 201, body: { tenant: 'default' } });
  });

  it('refuses to add credits without the admin scope', async () => {
    for (const key of [keys.tenant, keys.reader]) {
      expect(await call('POST', '/v1/account/credits', key, { amount: '1000', reference: 'free-money', tenant: acme })).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    }
    expect((await call('POST', '/v1/account/credits', null, { amount: '1', reference: 'x' })).status).toBe(401);
    // The refused requests credited nothing: the reference is still new.
    expect(await client.send(TopUpCredits, { tenant: acme, amount: '1000', reference: 'free-money' })).toMatchObject({ ok: true, result: { credited: true } });
  });

  it('answers a bad body with 400 naming the field, and changes nothing', async () => {
    const tenant = uniqueName('bad-');
    for (const [body, field] of [
      [{ amount: 'ten', reference: 'r', tenant }, 'amount'],
      [{ amount: 10, reference: 'r', tenant }, 'amount'],
      [{ amount: '-1', reference: 'r', tenant }, 'amount'],
      [{ amount: '1', tenant }, 'reference'],
      [{ amount: '1', reference: 'r', tenant: 'Not A Tenant' }, 'tenant'],
      [{ amount: '1', reference: 'r', tenant, colour: 'red' }, 'colour'],
    ] as const) {
      expect(await call('POST', '/v1/account/credits', keys.admin, body), JSON.stringify(body)).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', field } } });
    }
    expect(await call('POST', '/v1/account/credits', keys.admin, '[1, 2]')).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(await call('GET', `/v1/account?tenant=${tenant}`, keys.admin)).toMatchObject({ status: 200, body: { balance: '0' } });
    expect(await db.store.streamVersion(`billing/account/${tenant}`)).toBe(0);
  });

  it('refuses a 10 MB body with 413', async () => {
    const huge = { amount: '1', reference: 'x'.repeat(10 * 1024 * 1024), tenant: acme };
    expect((await call('POST', '/v1/account/credits', keys.admin, huge)).status).toBe(413);
  });

  it('shows a tenant key its own account only', async () => {
    const own = await call('GET', '/v1/account', keys.tenant);
    expect(own).toEqual({ status: 200, body: { tenant: acme, balance: '1025', reserved: '0', currency: { code: 'TFC', name: 'Mycelium Credits', symbol: 'TFC', usdRate: '1' } } });
    expect(await call('GET', `/v1/account?tenant=${acme}`, keys.tenant)).toMatchObject({ status: 200, body: { tenant: acme } });
    expect(await call('GET', `/v1/account?tenant=${other}`, keys.tenant)).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await call('GET', `/v1/account/ledger?tenant=${other}`, keys.tenant)).toMatchObject({ status: 403 });
    expect(await call('GET', '/v1/account', keys.untenanted)).toMatchObject({ status: 200, body: { tenant: 'default', balance: '1' } });
    expect(await call('GET', '/v1/account', keys.reader)).toMatchObject({ status: 403 });
  });

  it('lets an admin key see any tenant’s account', async () => {
    expect(await call('GET', `/v1/account?tenant=${acme}`, keys.admin)).toMatchObject({ status: 200, body: { tenant: acme, balance: '1025' } });
    expect(await call('GET', `/v1/account?tenant=${other}`, keys.admin)).toMatchObject({ status: 200, body: { tenant: other, balance: '0' } });
  });

  it('shows the ledger, newest last, limited, and names a bad limit or parameter', async () => {
    const ledger = await call('GET', '/v1/account/ledger?limit=1', keys.tenant);
    expect(ledger).toEqual({
      status: 200,
      body: { entries: [{ at: expect.any(String), type: 'credits-topped-up', debit: 'external:payments', credit: `tenant:${acme}:available`, amount: '1000', reference: 'free-money' }], total: 2 },
    });
    expect((await call('GET', '/v1/account/ledger', keys.tenant)).body.entries.map((entry: { reference: string }) => entry.reference)).toEqual(['invoice-1', 'free-money']);
    for (const limit of ['abc', '0', '1001', '2.5', '-1']) {
      expect(await call('GET', `/v1/account/ledger?limit=${limit}`, keys.tenant), limit).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', field: 'limit' } } });
    }
    expect(await call('GET', '/v1/account/ledger?limti=5', keys.tenant)).toMatchObject({ status: 400, body: { error: { field: 'limti' } } });
    expect(await call('GET', '/v1/account?tenant=Bad_Name', keys.admin)).toMatchObject({ status: 400, body: { error: { field: 'tenant' } } });
  });

  it('describes the routes in the OpenAPI document', async () => {
    const document = (await (await fetch(`${base}/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/account', '/v1/account/ledger', '/v1/account/credits']));
    expect(document.paths['/v1/account/credits']).toHaveProperty('post');
  });
});
