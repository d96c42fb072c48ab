import { createServer, type Server, type Socket, connect as connectTcp } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { IssueApiKey } from '@mycelium/contracts';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, signBody, startService } from '@mycelium/messaging';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gatewayService } from '../gateway.service.js';

/** The event API as third parties use it: their own clients, not ours. */
describe('the event API', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let gateway: RunningService;
  let base: string;
  let client: CommandClient;
  const keys: Record<string, string> = {};
  const cleanups: (() => void | Promise<void>)[] = [];
  let counter = 0;

  const issue = async (name: string, scopes: string[], tenant?: string) => {
    const reply = await client.send(IssueApiKey, { name, scopes: scopes as never, ...(tenant ? { tenant } : {}) });
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.result.key;
  };

  /** Events as a service records them: `tenant` in the metadata when a tenant's command caused them. */
  const record = async (stream: string, count: number, tenant?: string, type = 'mycelium.deployment.app-scaled.v1') => {
    const events = Array.from({ length: count }, () => ({ type, data: { n: (counter += 1) }, metadata: tenant ? { tenant } : {} }));
    const result = await db.store.append(stream, events);
    return result.lastPosition;
  };

  /** An EventSource (the `eventsource` package) on /v1/events with `key`. */
  const open = (key: string, query = '', options: { lastEventId?: string; url?: string } = {}) => {
    const received: MessageEvent[] = [];
    const source = new EventSource(`${options.url ?? base}/v1/events${query}`, {
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${key}`, ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}) } }),
    });
    source.onmessage = (message) => received.push(message);
    cleanups.push(() => source.close());
    return { source, received };
  };
  const connected = (source: EventSource) => waitFor(() => source.readyState === EventSource.OPEN, { what: 'the event stream to open' });
  const dataOf = (messages: MessageEvent[]) => messages.map((message) => (JSON.parse(message.data as string) as { data: { n: number } }).data.n);

  beforeAll(async () => {
    process.env.MYCELIUM_EVENTS_MAX_PENDING_BYTES = String(1024 * 1024);
    Object.assign(process.env, { MYCELIUM_WEBHOOK_ATTEMPTS: '3', MYCELIUM_WEBHOOK_BACKOFF_MS: '20', MYCELIUM_WEBHOOK_TIMEOUT_MS: '2000', MYCELIUM_GATEWAY_KEY: randomBytes(32).toString('base64') });
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const dir = mkdtempSync(join(tmpdir(), 'events-'));
    runtime = await openRuntime({
      config: { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace },
      topology: bus.topology,
      logger: createLogger({ name: 'events-test', level: 'silent' }),
      relay: false,
    });
    gateway = await startService(gatewayService, runtime, { port: 0 });
    base = `http://127.0.0.1:${gateway.port}`;
    client = new CommandClient(bus.nc, bus.topology);
    keys.operator = await issue('operator', ['admin']);
    keys.a = await issue('tenant a', ['events:read'], 'tenant-a');
    keys.b = await issue('tenant b', ['events:read'], 'tenant-b');
    keys.nodes = await issue('nodes only', ['nodes:read'], 'tenant-a');
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  afterAll(async () => {
    for (const name of ['MYCELIUM_EVENTS_MAX_PENDING_BYTES', 'MYCELIUM_WEBHOOK_ATTEMPTS', 'MYCELIUM_WEBHOOK_BACKOFF_MS', 'MYCELIUM_WEBHOOK_TIMEOUT_MS', 'MYCELIUM_GATEWAY_KEY']) delete process.env[name];
    await gateway?.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('streams every event as a CloudEvent the cloudevents SDK reads, its log position as the SSE id', async () => {
    const { source, received } = open(keys.operator!);
    await connected(source);
    await record('deployment/app/app_sdk00000000000001', 3, 'tenant-a');
    await record('spores/node/00000000000000000001', 1, undefined, 'mycelium.spores.node-suspected.v1');
    await waitFor(() => received.length === 4, { what: 'four events' });
    for (const message of received) {
      const event = new CloudEvent(JSON.parse(message.data as string) as Record<string, unknown>);
      expect(event.validate()).toBe(true);
      expect(event.source).toMatch(/^mycelium\/(deployment|spores)$/);
      expect((event as unknown as { position: string }).position).toBe(message.lastEventId);
    }
    const ids = received.map((message) => BigInt(message.lastEventId));
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
  });

  it('resumes with Last-Event-ID after the connection drops: no gap, no duplicate', async () => {
    // A proxy between the client and the gateway, whose sockets the test cuts.
    const sockets = new Set<Socket>();
    const proxy: Server = createServer((inbound) => {
      const outbound = connectTcp(gateway.port!, '127.0.0.1');
      sockets.add(inbound);
      inbound.pipe(outbound).pipe(inbound);
      const drop = () => {
        inbound.destroy();
        outbound.destroy();
        sockets.delete(inbound);
      };
      inbound.on('close', drop);
      outbound.on('close', drop);
      inbound.on('error', drop);
      outbound.on('error', drop);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    const address = proxy.address() as { port: number };
    const stream = `deployment/app/app_resume0000000001`;
    const { source, received } = open(keys.operator!, `?subject=${stream}`, { url: `http://127.0.0.1:${address.port}` });
    await connected(source);
    const first = counter + 1;
    await record(stream, 5);
    await waitFor(() => received.length === 5, { what: 'the first five' });

    for (const socket of sockets) socket.destroy();
    // Written while the client is away: it must get them when it comes back by itself.
    await record(stream, 5);
    await waitFor(() => received.length >= 10, { what: 'the client to reconnect and catch up', timeoutMs: 20_000 });
    await record(stream, 2);
    await waitFor(() => received.length >= 12, { what: 'live events after the resume' });
    expect(dataOf(received)).toEqual(Array.from({ length: 12 }, (_, i) => first + i));

    // A new client given the last id it saw gets only what came after.
    source.close();
    const after = open(keys.operator!, `?subject=${stream}`, { lastEventId: received[9]!.lastEventId });
    await waitFor(() => after.received.length === 2, { what: 'the two after the tenth' });
    expect(dataOf(after.received)).toEqual([first + 10, first + 11]);
  });

  it('shows a tenant its own events only; an operator sees every tenant’s and the grid’s', async () => {
    const a = open(keys.a!);
    const b = open(keys.b!);
    const operator = open(keys.operator!, '?type=mycelium.deployment.,mycelium.spores.');
    await Promise.all([connected(a.source), connected(b.source), connected(operator.source)]);
    const start = counter;
    await record('deployment/app/app_tenanta000000001', 2, 'tenant-a');
    await record('deployment/app/app_tenantb000000001', 3, 'tenant-b');
    await record('spores/node/00000000000000000002', 1, undefined, 'mycelium.spores.node-suspected.v1');
    await waitFor(() => operator.received.length === 6, { what: 'the operator to see all six' });
    await waitFor(() => a.received.length === 2 && b.received.length === 3, { what: 'each tenant its own' });
    expect(dataOf(a.received)).toEqual([start + 1, start + 2]);
    expect(dataOf(b.received)).toEqual([start + 3, start + 4, start + 5]);
    for (const message of a.received) expect(JSON.parse(message.data as string)).toMatchObject({ tenant: 'tenant-a' });
    // Catching up from the start of the log keeps to the tenant too.
    const replayed = open(keys.b!, '?since=0');
    await waitFor(() => replayed.received.length >= 3, { what: 'tenant b’s history' });
    expect(replayed.received.every((message) => (JSON.parse(message.data as string) as { tenant?: string }).tenant === 'tenant-b')).toBe(true);
  });

  it('filters by type prefix and subject, and refuses a bad filter or a key without events:read, naming why', async () => {
    const filtered = open(keys.operator!, '?type=mycelium.healing.&subject=healing/incident/inc_f');
    await connected(filtered.source);
    await record('healing/incident/inc_f0000000000000000001', 1, undefined, 'mycelium.healing.incident-opened.v1');
    await record('healing/incident/inc_g0000000000000000001', 1, undefined, 'mycelium.healing.incident-opened.v1');
    await record('healing/incident/inc_f0000000000000000002', 1, undefined, 'mycelium.deployment.app-scaled.v1');
    await record('healing/incident/inc_f0000000000000000003', 1, undefined, 'mycelium.healing.incident-resolved.v1');
    await waitFor(() => filtered.received.length === 2, { what: 'the two matching events' });
    expect(filtered.received.map((message) => (JSON.parse(message.data as string) as { type: string }).type)).toEqual([
      'mycelium.healing.incident-opened.v1',
      'mycelium.healing.incident-resolved.v1',
    ]);

    const refused = async (path: string, key: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}`, ...headers } });
      return { status: response.status, body: (await response.json()) as { error: { code: string; field?: string } } };
    };
    expect(await refused('/v1/events?type=Not%20A%20Type', keys.operator!)).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', field: 'type' } } });
    expect(await refused('/v1/events?since=yesterday', keys.operator!)).toMatchObject({ status: 400, body: { error: { field: 'since' } } });
    expect(await refused('/v1/events', keys.operator!, { 'last-event-id': 'abc' })).toMatchObject({ status: 400, body: { error: { field: 'Last-Event-ID' } } });
    expect(await refused('/v1/events', keys.nodes!)).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await refused('/v1/events?tenant=tenant-b', keys.a!)).toMatchObject({ status: 403, body: { error: { field: 'tenant' } } });
  });

  it('lets go of a reader that does not read, with the position to resume from, and slows no other', async () => {
    const stream = 'deployment/app/app_slow00000000000001';
    const steady = open(keys.operator!, `?subject=${stream}`);
    await connected(steady.source);
    // A reader that connects and never reads: its socket fills, then its pending events pass the bound.
    const stalled = connectTcp(gateway.port!, '127.0.0.1');
    let seen = '';
    stalled.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write(`GET /v1/events?subject=${stream} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${keys.operator}\r\n\r\n`);
    await waitFor(() => seen.includes('retry: 1000'), { what: 'the stalled reader’s stream to open' });
    stalled.pause();
    cleanups.push(() => void stalled.destroy());
    let total = 0;
    for (let batch = 0; batch < 60; batch += 1) {
      await record(stream, 500);
      total += 500;
    }
    await waitFor(() => steady.received.length === total, { what: 'the steady reader to get every event', timeoutMs: 30_000 });
    stalled.resume();
    await waitFor(() => seen.includes('event: overflow'), { what: 'the overflow notice', timeoutMs: 30_000 });
    const notice = /event: overflow\ndata: (.*)\n/.exec(seen)![1]!;
    const { resumeFrom } = JSON.parse(notice) as { resumeFrom: string };
    const lastId = [...seen.matchAll(/^id: (\d+)$/gm)].at(-1)![1]!;
    expect(resumeFrom).toBe(lastId);
  });

  describe('over WebSocket', () => {
    /** A `ws` client on /v1/events/ws, collecting the frames it gets. */
    const socket = async (key: string | undefined, query = '') => {
      const frames: Record<string, unknown>[] = [];
      const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/v1/events/ws${query}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
      ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
      cleanups.push(() => ws.close());
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
        ws.once('error', reject);
      });
      const send = (frame: unknown) => ws.send(JSON.stringify(frame));
      const frame = (predicate: (frame: Record<string, unknown>) => boolean, what: string) => waitFor(() => frames.find(predicate), { what });
      return { ws, frames, send, frame };
    };
    const eventsOf = (frames: Record<string, unknown>[], id: string) =>
      frames.filter((frame) => frame.type === 'event' && frame.subscription === id).map((frame) => (frame.event as { data: { n: number } }).data.n);

    it('acknowledges subscribe and unsubscribe, and sends each subscription its events', async () => {
      const client = await socket(keys.operator);
      client.send({ type: 'subscribe', id: 'apps', filter: { type: 'mycelium.deployment.', subject: 'deployment/app/app_ws' } });
      client.send({ type: 'subscribe', id: 'nodes', filter: { type: ['mycelium.spores.'] } });
      await client.frame((frame) => frame.type === 'subscribed' && frame.id === 'apps', 'the first acknowledgement');
      await client.frame((frame) => frame.type === 'subscribed' && frame.id === 'nodes', 'the second acknowledgement');
      const start = counter;
      await record('deployment/app/app_ws00000000000001', 2);
      await record('spores/node/00000000000000000003', 1, undefined, 'mycelium.spores.node-suspected.v1');
      await waitFor(() => eventsOf(client.frames, 'apps').length === 2 && eventsOf(client.frames, 'nodes').length === 1, { what: 'each subscription its events' });
      expect(eventsOf(client.frames, 'apps')).toEqual([start + 1, start + 2]);
      for (const frame of client.frames.filter((candidate) => candidate.type === 'event')) {
        expect(new CloudEvent(frame.event as Record<string, unknown>).validate()).toBe(true);
      }

      client.send({ type: 'unsubscribe', id: 'apps' });
      await client.frame((frame) => frame.type === 'unsubscribed' && frame.id === 'apps', 'the unsubscribe acknowledgement');
      await record('deployment/app/app_ws00000000000001', 1);
      await record('spores/node/00000000000000000003', 1, undefined, 'mycelium.spores.node-recovered.v1');
      await waitFor(() => eventsOf(client.frames, 'nodes').length === 2, { what: 'the remaining subscription' });
      expect(eventsOf(client.frames, 'apps')).toHaveLength(2);
    });

    it('resumes a subscription after a position, keeps a tenant to its own events, and names what is wrong', async () => {
      const position = await record('deployment/app/app_wsresume00000001', 1, 'tenant-b');
      const before = counter;
      await record('deployment/app/app_wsresume00000001', 2, 'tenant-b');
      await record('deployment/app/app_wsresume00000002', 2, 'tenant-a');
      const b = await socket(keys.b);
      b.send({ type: 'subscribe', id: 'history', after: position.toString(), filter: { subject: 'deployment/app/app_wsresume' } });
      await waitFor(() => eventsOf(b.frames, 'history').length === 2, { what: 'tenant b’s two events after the position' });
      expect(eventsOf(b.frames, 'history')).toEqual([before + 1, before + 2]);

      b.send({ type: 'subscribe', id: 'bad', filter: { type: 'Not A Type' } });
      expect(await b.frame((frame) => frame.type === 'error' && frame.id === 'bad', 'the refusal')).toMatchObject({ error: { code: 'VALIDATION_FAILED', field: 'type' } });
      b.send({ type: 'subscribe', id: 'history' });
      expect(await b.frame((frame) => frame.type === 'error' && frame.id === 'history', 'the duplicate refusal')).toMatchObject({ error: { code: 'CONFLICT', field: 'id' } });
      b.ws.send('not json');
      await b.frame((frame) => frame.type === 'error' && !('id' in frame), 'the malformed-frame refusal');

      await expect(socket(undefined)).rejects.toThrow('HTTP 401');
      await expect(socket(keys.nodes)).rejects.toThrow('HTTP 403');
      await expect(socket(keys.a, '?tenant=tenant-b')).rejects.toThrow('HTTP 403');
    });
  });

  describe('by webhook', () => {
    interface Received {
      headers: Record<string, string>;
      body: string;
    }
    /** A receiver on a local port: it records each request, answering `status()`. */
    const receiver = async (status: () => number = () => 204) => {
      const received: Received[] = [];
      const server = createHttpServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          const code = status();
          if (code < 300) received.push({ headers: request.headers as Record<string, string>, body });
          response.writeHead(code).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, received };
    };
    const call = async (method: string, path: string, key: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
    };
    const numbers = (received: Received[], binary = false) => received.map((request) => (binary ? (JSON.parse(request.body) as { n: number }).n : (JSON.parse(request.body) as { data: { n: number } }).data.n));

    it('POSTs a tenant’s events, signed, as CloudEvents the SDK reads in structured and binary mode', async () => {
      const structured = await receiver();
      const binary = await receiver();
      const created = await call('POST', '/v1/subscriptions', keys.a!, { url: structured.url, subject: 'deployment/app/app_hook' });
      expect(created).toMatchObject({ status: 201, body: { subscriptionId: expect.stringMatching(/^sub_/), mode: 'structured', tenant: 'tenant-a', status: 'active' } });
      const secret = created.body.secret as string;
      const forBinary = await call('POST', '/v1/subscriptions', keys.operator!, { url: binary.url, mode: 'binary', types: ['mycelium.deployment.app-'], subject: 'deployment/app/app_hook', secret: 'a-secret-of-sixteen-chars' });
      expect(forBinary.body.secret).toBeUndefined();

      const start = counter;
      await record('deployment/app/app_hook0000000000001', 2, 'tenant-a');
      await record('deployment/app/app_hook0000000000002', 1, 'tenant-b');
      await waitFor(() => structured.received.length === 2 && binary.received.length === 3, { what: 'the deliveries' });
      expect(numbers(structured.received)).toEqual([start + 1, start + 2]);
      expect(numbers(binary.received, true)).toEqual([start + 1, start + 2, start + 3]);
      for (const request of structured.received) {
        expect(request.headers['x-mycelium-signature']).toBe(signBody(request.body, secret));
        const event = HTTP.toEvent({ headers: request.headers, body: request.body }) as CloudEvent;
        expect(event.validate()).toBe(true);
        expect(event.tenant).toBe('tenant-a');
      }
      for (const request of binary.received) {
        expect(request.headers['x-mycelium-signature']).toBe(signBody(request.body, 'a-secret-of-sixteen-chars'));
        const event = HTTP.toEvent({ headers: request.headers, body: request.body }) as CloudEvent;
        expect(event.validate()).toBe(true);
        expect(event.type).toBe('mycelium.deployment.app-scaled.v1');
      }
      // The other tenant neither sees the subscription nor can touch it.
      const id = created.body.subscriptionId as string;
      expect((await call('GET', `/v1/subscriptions/${id}`, keys.b!)).status).toBe(404);
      expect((await call('GET', '/v1/subscriptions', keys.b!)).body.subscriptions).toEqual([]);
      await waitFor(async () => ((await call('GET', `/v1/subscriptions/${id}/deliveries`, keys.a!)).body.deliveries as unknown[]).length > 0, { what: 'the delivery record' });
      expect(((await call('GET', `/v1/subscriptions/${id}/deliveries`, keys.a!)).body.deliveries as { kind: string }[])[0]).toMatchObject({ kind: 'delivered' });
    });

    it('retries, disables the subscription when a receiver keeps failing, and resumes at that event once enabled', async () => {
      let failing = true;
      const flaky = await receiver(() => (failing ? 503 : 200));
      const created = await call('POST', '/v1/subscriptions', keys.operator!, { url: flaky.url, subject: 'deployment/app/app_flaky' });
      const id = created.body.subscriptionId as string;
      const start = counter;
      await record('deployment/app/app_flaky000000000001', 2);
      await waitFor(async () => (await call('GET', `/v1/subscriptions/${id}`, keys.operator!)).body.status === 'disabled', { what: 'the subscription to be disabled' });
      const { body } = await call('GET', `/v1/subscriptions/${id}/deliveries`, keys.operator!);
      expect(body.deliveries).toEqual([
        expect.objectContaining({ kind: 'failed', attempts: 3, status: 503, error: 'HTTP 503' }),
        expect.objectContaining({ kind: 'disabled', reason: expect.stringMatching(/every one of 3 attempts .* enable the subscription/) }),
      ]);
      const logged = await db.store.readStream(`gateway/subscription/${id}`);
      expect(logged.map((event) => event.type)).toContain('mycelium.gateway.subscription-disabled.v1');

      failing = false;
      expect(await call('POST', `/v1/subscriptions/${id}/enable`, keys.operator!)).toMatchObject({ status: 200, body: { status: 'active' } });
      await waitFor(() => flaky.received.length === 2, { what: 'both events once enabled' });
      expect(numbers(flaky.received)).toEqual([start + 1, start + 2]);

      expect(await call('POST', '/v1/subscriptions', keys.operator!, { url: 'ftp://example.com' })).toMatchObject({ status: 400, body: { error: { field: 'url' } } });
      expect(await call('POST', '/v1/subscriptions', keys.operator!, { url: flaky.url, mode: 'carrier-pigeon' })).toMatchObject({ status: 400, body: { error: { field: 'mode' } } });
      expect((await call('DELETE', `/v1/subscriptions/${id}`, keys.operator!)).status).toBe(204);
      expect((await call('GET', `/v1/subscriptions/${id}`, keys.operator!)).status).toBe(404);
    });
  });

  it('serves the JSON Schema of every event type', async () => {
    const response = await fetch(`${base}/v1/events/schema`, { headers: { authorization: `Bearer ${keys.a}` } });
    const schemas = (await response.json()) as Record<string, { title: string }>;
    expect(response.status).toBe(200);
    expect(schemas['mycelium.deployment.app-deploy-requested.v1']).toMatchObject({ title: 'AppDeployRequestedV1' });
    expect(Object.keys(schemas).length).toBeGreaterThan(50);
  });
});
