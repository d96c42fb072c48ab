import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { waitFor } from '@mycelium/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deadPort, routeTo, send, startReplica, type TestReplica, websocketAccept } from './ingress.fixture.js';
import { IngressProxy } from './ingress-proxy.js';
import { StaticRouteSource } from './route-source.js';

describe('ingress proxy', () => {
  const source = new StaticRouteSource();
  const proxy = new IngressProxy({ source, breaker: { failureThreshold: 3, coolDownMs: 60_000 } });
  const replicas: TestReplica[] = [];
  const proxies: IngressProxy[] = [];
  let port: number;
  let shop: TestReplica[];

  const replica = async (id: string, options: Parameters<typeof startReplica>[1] = {}) => {
    const started = await startReplica(id, options);
    replicas.push(started);
    return started;
  };
  /** The replica ids that answered `answers`, counted. */
  const byReplica = (answers: { headers: http.IncomingHttpHeaders }[]) =>
    answers.reduce<Record<string, number>>((counts, answer) => {
      const id = String(answer.headers['x-mycelium-replica']);
      return { ...counts, [id]: (counts[id] ?? 0) + 1 };
    }, {});
  const sequentially = async <T>(count: number, work: (index: number) => Promise<T>) => {
    const results: T[] = [];
    for (let index = 0; index < count; index += 1) results.push(await work(index));
    return results;
  };

  beforeAll(async () => {
    shop = [await replica('shop-1'), await replica('shop-2'), await replica('shop-3')];
    source.set([routeTo('shop', shop), routeTo('empty', [])]);
    port = await proxy.listen(0);
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((other) => other.close()));
  });
  afterAll(async () => {
    await proxy.close();
    await Promise.all(replicas.map((started) => started.close()));
  });

  describe('routing', () => {
    it('routes by Host <app>.<tenant>.localhost to the app, with the path unchanged', async () => {
      const answer = await send(port, '/cart/items?page=2', { host: `shop.acme.localhost:${port}` });
      expect(answer.status).toBe(200);
      expect(answer.json()).toMatchObject({ method: 'GET', url: '/cart/items?page=2' });
      expect(shop.map((started) => started.id)).toContain(answer.headers['x-mycelium-replica']);
      expect(answer.headers['x-replica']).toBe(answer.headers['x-mycelium-replica']);
    });

    it('routes by path /apps/<tenant>/<app>/…, taking the prefix off', async () => {
      expect((await send(port, '/apps/acme/shop/cart/items?page=2')).json()).toMatchObject({ url: '/cart/items?page=2' });
      expect((await send(port, '/apps/acme/shop')).json()).toMatchObject({ url: '/' });
      expect((await send(port, '/apps/acme/shop?page=2')).json()).toMatchObject({ url: '/?page=2' });
    });

    it('tells the replica who asked, through which host and prefix, and addresses it by its own host', async () => {
      const answer = await send(port, '/apps/acme/shop/who', { headers: { 'x-forwarded-for': '203.0.113.9' } });
      const seen = shop.find((started) => started.id === answer.headers['x-mycelium-replica'])!.seen.at(-1)!;
      expect(seen.headers).toMatchObject({
        'x-forwarded-for': '203.0.113.9, 127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': `127.0.0.1:${port}`,
        'x-forwarded-prefix': '/apps/acme/shop',
        host: shop.find((started) => started.id === answer.headers['x-mycelium-replica'])!.address,
      });
    });

    it('drops hop-by-hop headers both ways, including those the Connection header names', async () => {
      const echo = await replica('hops', {
        handler: (_req, res) => {
          res.writeHead(200, { connection: 'x-upstream-hop', 'x-upstream-hop': 'secret', 'keep-alive': 'timeout=5', 'x-app': 'kept' });
          res.end('ok');
        },
      });
      source.set([...source.routes(), routeTo('hops', [echo])]);
      const answer = await send(port, '/apps/acme/hops/', { headers: { connection: 'keep-alive, x-client-hop', 'x-client-hop': 'secret', te: 'trailers', 'x-kept': 'yes' } });
      expect(answer.headers).toMatchObject({ 'x-app': 'kept' });
      expect(answer.headers['x-upstream-hop']).toBeUndefined();
      expect(answer.headers['keep-alive']).not.toBe('timeout=5');
      const seen = echo.seen.at(-1)!.headers;
      expect(seen['x-kept']).toBe('yes');
      expect(seen['x-client-hop']).toBeUndefined();
      expect(seen.te).toBeUndefined();
    });

    it('answers an unknown app with 404 APP_NOT_FOUND, saying how to reach and list apps', async () => {
      for (const answer of [await send(port, '/apps/acme/nothing/'), await send(port, '/', { host: 'nothing.acme.localhost' }), await send(port, '/favicon.ico')]) {
        expect(answer.status).toBe(404);
        expect(answer.headers['content-type']).toBe('application/json');
        expect(answer.json()).toEqual({ error: { code: 'APP_NOT_FOUND', message: expect.stringContaining('`myc apps` lists the running apps') } });
      }
      expect((await send(port, '/apps/acme/nothing/')).json<{ error: { message: string } }>().error.message).toContain('"nothing"');
    });

    it('answers an app without healthy replicas with 503 NO_HEALTHY_REPLICA', async () => {
      const answer = await send(port, '/apps/acme/empty/');
      expect(answer.status).toBe(503);
      expect(answer.json()).toEqual({ error: { code: 'NO_HEALTHY_REPLICA', message: expect.stringContaining('acme/empty') } });
    });
  });

  describe('balancing', () => {
    it('spreads 30 requests over all 3 replicas', async () => {
      const answers = await sequentially(30, () => send(port, '/apps/acme/shop/'));
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(byReplica(answers)).toEqual({ 'shop-1': 10, 'shop-2': 10, 'shop-3': 10 });
    });

    it('follows a change of the routes: a new replica gets traffic, a removed one none', async () => {
      const blue = await replica('blue-1');
      const green = await replica('green-1');
      const routes = source.routes().filter((route) => route.name !== 'colours');
      source.set([...routes, routeTo('colours', [blue])]);
      expect((await send(port, '/apps/acme/colours/')).headers['x-mycelium-replica']).toBe('blue-1');
      source.set([...routes, routeTo('colours', [green])]);
      expect(byReplica(await sequentially(3, () => send(port, '/apps/acme/colours/')))).toEqual({ 'green-1': 3 });
    });

    it('counts requests by app and status, and times the replicas', async () => {
      await send(port, '/apps/acme/shop/');
      await send(port, '/favicon.ico');
      const text = await proxy.metrics.registry.metrics();
      expect(text).toMatch(/mycelium_ingress_requests_total\{app="acme\/shop",status="200"\} [1-9]/);
      expect(text).toMatch(/mycelium_ingress_requests_total\{app="\(none\)",status="404"\} [1-9]/);
      expect(text).toMatch(/mycelium_ingress_upstream_duration_seconds_count\{app="acme\/shop"\} [1-9]/);
    });
  });

  describe('failures', () => {
    it('retries GETs of a dead replica on another, unseen by the client, and skips it once its breaker opens', async () => {
      const [a, b] = [await replica('alive-a'), await replica('alive-b')];
      source.set([...source.routes(), routeTo('dead', [a, { id: 'dead-1', address: `127.0.0.1:${await deadPort()}` }, b])]);
      const first = await sequentially(12, () => send(port, '/apps/acme/dead/'));
      expect(first.map((answer) => answer.status)).toEqual(Array(12).fill(200));
      expect(Object.keys(byReplica(first)).sort()).toEqual(['alive-a', 'alive-b']);
      const dead = () => proxy.inspect('acme', 'dead')!.find((report) => report.replicaId === 'dead-1')!;
      expect(dead()).toMatchObject({ breaker: 'open', attempts: 3 });
      const later = await sequentially(12, () => send(port, '/apps/acme/dead/'));
      expect(later.every((answer) => answer.status === 200)).toBe(true);
      expect(dead().attempts).toBe(3);
      expect(await proxy.metrics.registry.metrics()).toMatch(/mycelium_ingress_retries_total\{app="acme\/dead"\} 3/);
    });

    it('never retries a POST: the one sent to the dead replica fails with 502 UPSTREAM_FAILED', async () => {
      const alive = await replica('post-alive');
      source.set([...source.routes(), routeTo('orders', [{ id: 'post-dead', address: `127.0.0.1:${await deadPort()}` }, alive])]);
      const answers = await sequentially(2, () => send(port, '/apps/acme/orders/', { method: 'POST', body: '{"sku":"x"}', headers: { 'content-type': 'application/json' } }));
      expect(answers.map((answer) => answer.status)).toEqual([502, 200]);
      expect(answers[0]!.json()).toEqual({ error: { code: 'UPSTREAM_FAILED', message: expect.stringContaining('ECONNREFUSED') } });
      expect(answers[0]!.headers['x-mycelium-replica']).toBe('post-dead');
      expect(alive.seen).toHaveLength(1);
    });

    it('retries an idempotent request answered 503 on another replica, body and all; a POST gets the 503 as it is', async () => {
      const busy = await replica('busy', {
        handler: (_req, res) => {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('busy');
        },
      });
      const calm = await replica('calm');
      source.set([...source.routes(), routeTo('busy', [busy, calm])]);
      const put = await send(port, '/apps/acme/busy/doc', { method: 'PUT', body: 'the document' });
      expect(put.status).toBe(200);
      expect(put.json()).toMatchObject({ method: 'PUT', body: 'the document' });
      expect(busy.seen.map((seen) => seen.body)).toEqual(['the document']);
      // Two POSTs, one per replica in turn: the one that meets the busy replica gets its answer.
      const posts = await sequentially(2, () => send(port, '/apps/acme/busy/doc', { method: 'POST', body: 'x' }));
      expect(posts.map((post) => `${post.status} ${post.headers['x-mycelium-replica']}`).sort()).toEqual(['200 calm', '503 busy']);
      expect(posts.find((post) => post.status === 503)!.text).toBe('busy');
    });

    it('retries a GET answered 503 on another replica, the first answer dropped unseen', async () => {
      const unready = await replica('unready', {
        handler: (_req, res) => {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('not yet');
        },
      });
      const ready = await replica('ready');
      source.set([...source.routes(), routeTo('unready', [unready, ready])]);
      const answers = await sequentially(4, () => send(port, '/apps/acme/unready/page'));
      expect(answers.map((answer) => `${answer.status} ${answer.headers['x-mycelium-replica']}`)).toEqual(Array(4).fill('200 ready'));
      expect(unready.seen.length).toBeGreaterThan(0);
    });

    it('lets one trial through after the cool-down and closes the breaker when the replica is back', async () => {
      const opened: string[] = [];
      const quick = new IngressProxy({ source, breaker: { failureThreshold: 2, coolDownMs: 200 }, onCircuitOpened: ({ route, replica }) => opened.push(`${route.name}/${replica.replicaId}`) });
      proxies.push(quick);
      const quickPort = await quick.listen(0);
      const steady = await replica('steady');
      const flakyPort = await deadPort();
      source.set([...source.routes(), routeTo('flaky', [steady, { id: 'flaky', address: `127.0.0.1:${flakyPort}` }])]);
      const flaky = () => quick.inspect('acme', 'flaky')!.find((report) => report.replicaId === 'flaky')!;
      await waitFor(async () => (await send(quickPort, '/apps/acme/flaky/')).status === 200 && flaky().breaker === 'open', { what: 'the breaker to open' });
      // The trip is told once, so the grid can record it.
      expect(opened).toEqual(['flaky/flaky']);
      await replica('flaky', { port: flakyPort });
      await waitFor(async () => (await send(quickPort, '/apps/acme/flaky/')).headers['x-mycelium-replica'] === 'flaky', { what: 'the recovered replica to get traffic' });
      expect(flaky().breaker).toBe('closed');
    });

    it('answers 504 UPSTREAM_TIMEOUT when a replica stays silent too long, and does not retry', async () => {
      const impatient = new IngressProxy({ source, upstreamTimeoutMs: 100 });
      proxies.push(impatient);
      const impatientPort = await impatient.listen(0);
      const silent = await replica('silent', { raw: () => undefined });
      const other = await replica('other');
      source.set([...source.routes(), routeTo('silent', [silent, other])]);
      const answer = await send(impatientPort, '/apps/acme/silent/');
      expect(answer.status).toBe(504);
      expect(answer.json()).toMatchObject({ error: { code: 'UPSTREAM_TIMEOUT' } });
      expect(other.seen).toHaveLength(0);
    });

    it('cuts the client off when the replica breaks off mid-answer, rather than pass a truncated body as whole', async () => {
      const halfway = await replica('halfway', {
        raw: (req, res) => {
          res.writeHead(200, { 'content-length': '100' });
          res.write('only the first part', () => req.socket.destroy());
        },
      });
      source.set([...source.routes(), routeTo('halfway', [halfway])]);
      await expect(send(port, '/apps/acme/halfway/')).rejects.toThrow();
    });

    it('neither blames nor keeps counting a replica when the client leaves before the answer', async () => {
      const strict = new IngressProxy({ source, breaker: { failureThreshold: 1, coolDownMs: 60_000 } });
      proxies.push(strict);
      const strictPort = await strict.listen(0);
      const slow = await replica('slow', { raw: () => undefined });
      source.set([...source.routes(), routeTo('slow', [slow])]);
      const request = http.request({ host: '127.0.0.1', port: strictPort, path: '/apps/acme/slow/', agent: false });
      request.on('error', () => undefined);
      request.end();
      await waitFor(() => slow.seen.length === 1, { what: 'the request to reach the replica' });
      request.destroy();
      await waitFor(() => strict.inspect('acme', 'slow')![0]!.inFlight === 0, { what: 'the abandoned request to end' });
      expect(strict.inspect('acme', 'slow')![0]!.breaker).toBe('closed');
    });

    it('answers 502 when the replica breaks off its answer before sending any of it', async () => {
      const broken = await replica('broken', { raw: (req) => req.socket.destroy() });
      source.set([...source.routes(), routeTo('broken', [broken])]);
      const answer = await send(port, '/apps/acme/broken/', { method: 'POST' });
      expect(answer.status).toBe(502);
      expect(answer.json()).toMatchObject({ error: { code: 'UPSTREAM_FAILED' } });
    });
  });

  describe('streaming', () => {
    it('streams a request body to the replica and its answer back while both are still being sent', async () => {
      // The replica echoes each chunk as it comes: a proxy that waited for the whole body before
      // passing it on (or for the whole answer) would leave the client waiting for the first echo.
      const echo = await replica('echo', {
        raw: (req, res) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.flushHeaders();
          req.on('data', (chunk: Buffer) => res.write(chunk));
          req.on('end', () => res.end());
        },
      });
      source.set([...source.routes(), routeTo('echo', [echo])]);
      const received: string[] = [];
      const request = http.request({ host: '127.0.0.1', port, path: '/apps/acme/echo/', method: 'POST', agent: false });
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        request.on('response', resolve).on('error', reject);
        request.flushHeaders();
      });
      const next = () => new Promise<string>((resolve) => response.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      for (const part of ['first part;', 'second part;', 'third part;']) {
        const echoed = next();
        request.write(part);
        received.push(await echoed);
      }
      request.end();
      await new Promise((resolve) => response.on('end', resolve).resume());
      expect(received).toEqual(['first part;', 'second part;', 'third part;']);
      expect(response.headers['x-mycelium-replica']).toBe('echo');
    });
  });

  describe('streaming answers', () => {
    it('passes the head of a slow answer on at once, before any of its body', async () => {
      let finish: (() => void) | undefined;
      const ticker = await replica('ticker', {
        raw: (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.flushHeaders();
          finish = () => res.end('data: done\n\n');
        },
      });
      source.set([...source.routes(), routeTo('ticker', [ticker])]);
      const request = http.request({ host: '127.0.0.1', port, path: '/apps/acme/ticker/events', agent: false });
      const response = await new Promise<IncomingMessage>((resolve, reject) => request.on('response', resolve).on('error', reject).end());
      expect(response.headers).toMatchObject({ 'content-type': 'text/event-stream', 'x-mycelium-replica': 'ticker' });
      const body = new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve(Buffer.concat(chunks).toString()));
      });
      finish!();
      expect(await body).toBe('data: done\n\n');
    });

    it('passes a large answer on whole to a client that reads it slowly', async () => {
      const large = Buffer.alloc(8 * 1024 * 1024, 'abcdefgh');
      const big = await replica('big', {
        handler: (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': large.length });
          res.end(large);
        },
      });
      source.set([...source.routes(), routeTo('big', [big])]);
      const request = http.request({ host: '127.0.0.1', port, path: '/apps/acme/big/', agent: false });
      const response = await new Promise<IncomingMessage>((resolve, reject) => request.on('response', resolve).on('error', reject).end());
      // A client reading in small steps backs up the proxy's writes to it: the proxy pauses the replica, and must resume it.
      const received: Buffer[] = [];
      for await (const chunk of response) {
        received.push(chunk as Buffer);
        if (received.length % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(Buffer.concat(received).equals(large)).toBe(true);
      await waitFor(() => proxy.inspect('acme', 'big')![0]!.inFlight === 0, { what: 'the answer to be counted as done' });
    });
  });

  describe('WebSocket', () => {
    it('passes an upgrade through to a replica and pipes bytes both ways', async () => {
      const chat = await replica('chat');
      source.set([...source.routes(), routeTo('chat', [chat])]);
      const key = Buffer.from('sixteen byte key').toString('base64');
      const request = http.request({
        host: '127.0.0.1',
        port,
        path: '/apps/acme/chat/socket',
        agent: false,
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' },
      });
      const [response, socket] = await new Promise<[IncomingMessage, Socket]>((resolve, reject) => {
        request.on('upgrade', (res: IncomingMessage, upgraded: Socket) => resolve([res, upgraded]));
        request.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
        request.on('error', reject);
        request.end();
      });
      expect(response.statusCode).toBe(101);
      expect(response.headers).toMatchObject({ 'sec-websocket-accept': websocketAccept(key), 'x-mycelium-replica': 'chat', upgrade: 'websocket' });
      expect(chat.seen.at(-1)).toMatchObject({ url: '/socket', headers: { upgrade: 'websocket', 'sec-websocket-key': key } });
      const echoed = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      socket.write('hello through the ingress');
      expect(await echoed).toBe('hello through the ingress');
      socket.destroy();
      await waitFor(() => proxy.inspect('acme', 'chat')![0]!.inFlight === 0, { what: 'the tunnel to close' });
    });

    it('answers an upgrade for an unknown app with 404', async () => {
      const request = http.request({ host: '127.0.0.1', port, path: '/apps/acme/nowhere/', agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket' } });
      const status = await new Promise<number>((resolve, reject) => {
        request.on('response', (res) => resolve(res.statusCode!)).on('error', reject);
        request.end();
      });
      expect(status).toBe(404);
    });
  });
});
