import { createServer, type Server, type Socket, connect as connectTcp } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { IssueApiKey } from '@mycelium/contracts';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
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
    delete process.env.MYCELIUM_EVENTS_MAX_PENDING_BYTES;
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

  it('serves the JSON Schema of every event type', async () => {
    const response = await fetch(`${base}/v1/events/schema`, { headers: { authorization: `Bearer ${keys.a}` } });
    const schemas = (await response.json()) as Record<string, { title: string }>;
    expect(response.status).toBe(200);
    expect(schemas['mycelium.deployment.app-deploy-requested.v1']).toMatchObject({ title: 'AppDeployRequestedV1' });
    expect(Object.keys(schemas).length).toBeGreaterThan(50);
  });
});
