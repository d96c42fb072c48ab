import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@mycelium/telemetry';
import { type BreakerOptions, DEFAULT_BREAKER } from './circuit-breaker.js';
import { IngressMetrics, NO_APP } from './ingress.metrics.js';
import type { ReplicaState } from './load-balancer.js';
import type { RouteSource } from './route-source.js';
import { type AppEntry, type ReplicaReport, RouteTable } from './route-table.js';

export interface IngressProxyOptions {
  source: RouteSource;
  logger?: Logger;
  metrics?: IngressMetrics;
  breaker?: BreakerOptions;
  /** Longest silence from a replica (connecting, or between two bytes) before the request fails; default 60 s. */
  upstreamTimeoutMs?: number;
  /** Request bodies up to this size are kept while they stream, so an idempotent request can be retried; default 64 KiB. */
  retryBodyLimit?: number;
  /** A monotonic clock in milliseconds; default performance.now. */
  now?: () => number;
  random?: () => number;
}

/** Where a request goes: an app, and the path to ask it for. */
interface Target {
  tenant: string;
  name: string;
  path: string;
  /** The part of the path the ingress took off (path routing), for X-Forwarded-Prefix. */
  prefix?: string;
}

/** Methods a retry cannot make happen twice in effect (RFC 9110 §9.2.2); POST and PATCH are not. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Upstream answers that mean "not me, not now": an idempotent request may try another replica. */
const RETRY_STATUSES = new Set([502, 503, 504]);
/** Headers about one connection, not the message (RFC 9110 §7.6.1): never forwarded as they are. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const LOCALHOST_SUFFIX = '.localhost';
const APPS_PREFIX = '/apps/';
const HOW_TO_REACH =
  'reach an app at http://<app>.<tenant>.localhost:<port>/ or at /apps/<tenant>/<app>/ on this port; `myc apps` lists the running apps';

class UpstreamTimeoutError extends Error {
  override readonly name = 'UpstreamTimeoutError';
  readonly code = 'UPSTREAM_TIMEOUT';
}

/** The app a request is for: by its Host (`<app>.<tenant>.localhost`), else by its path (`/apps/<tenant>/<app>/…`). */
export function resolveTarget(host: string | undefined, url: string): Target | undefined {
  if (host && host[0] !== '[') {
    const colon = host.indexOf(':');
    const hostname = (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
    if (hostname.endsWith(LOCALHOST_SUFFIX)) {
      const labels = hostname.slice(0, -LOCALHOST_SUFFIX.length).split('.');
      if (labels.length === 2 && labels[0] && labels[1]) return { name: labels[0], tenant: labels[1], path: url };
    }
  }
  if (!url.startsWith(APPS_PREFIX)) return undefined;
  const match = /^\/apps\/([^/?#]+)\/([^/?#]+)(.*)$/s.exec(url);
  if (!match) return undefined;
  const rest = match[3]!;
  const path = rest === '' ? '/' : rest[0] === '?' ? `/${rest}` : rest;
  return { tenant: match[1]!, name: match[2]!, path, prefix: `/apps/${match[1]}/${match[2]}` };
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** The value of a header in raw headers ([name, value, name, value…]), the first if repeated. */
function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

/** Headers a Connection header names are hop-by-hop too; `keep-alive` and `close` (the usual values) name none. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  const value = rawHeader(raw, 'connection');
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined;
  return new Set(
    value
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ''),
  );
}

/**
 * The end-to-end headers of `raw` (hop-by-hop ones left out), as raw headers again. Working on raw
 * headers spares building header objects on both sides: this runs twice per request.
 */
function endToEnd(raw: readonly string[], skip?: (lowerName: string) => boolean): string[] {
  const named = connectionTokens(raw);
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || skip?.(lower)) continue;
    kept.push(raw[i]!, raw[i + 1]!);
  }
  return kept;
}

const FORWARDED_ELSEWHERE = (name: string) => name === 'host' || name === 'expect' || name === 'x-forwarded-for';

/** The request's end-to-end headers, plus where it came from, for the replica. */
function forwardHeaders(req: IncomingMessage, replica: ReplicaState, target: Target, upgrade: boolean): string[] {
  const raw = req.rawHeaders;
  const headers = endToEnd(raw, FORWARDED_ELSEWHERE);
  const host = rawHeader(raw, 'host');
  const client = req.socket.remoteAddress ?? '';
  const forwardedFor = rawHeader(raw, 'x-forwarded-for');
  headers.push('Host', replica.replica.address);
  headers.push('X-Forwarded-For', forwardedFor ? `${forwardedFor}, ${client}` : client);
  headers.push('X-Forwarded-Proto', (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  if (host) headers.push('X-Forwarded-Host', host);
  if (target.prefix) headers.push('X-Forwarded-Prefix', target.prefix);
  if (upgrade) {
    headers.push('Connection', 'upgrade');
    const protocol = rawHeader(raw, 'upgrade');
    if (protocol) headers.push('Upgrade', protocol);
  }
  return headers;
}

/** The replica's end-to-end response headers, plus which replica answered. */
function responseHeaders(raw: readonly string[], replica: ReplicaState): string[] {
  const headers = endToEnd(raw);
  headers.push('X-Mycelium-Replica', replica.replica.replicaId);
  return headers;
}

/**
 * The body of a request as it streams to a replica, kept (up to a limit) so that a retry can send
 * it again to another replica. A body larger than the limit streams all the same; it just cannot be
 * retried.
 */
class ReplayableBody {
  #chunks: Buffer[] = [];
  #size = 0;
  #overflowed = false;
  #ended = false;
  #sink: ClientRequest | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
  ) {
    req.on('data', (chunk: Buffer) => {
      if (!this.#overflowed) {
        this.#size += chunk.length;
        if (this.#size > limit) {
          this.#overflowed = true;
          this.#chunks = [];
        } else this.#chunks.push(chunk);
      }
      const sink = this.#sink;
      if (sink && !sink.write(chunk)) {
        req.pause();
        sink.once('drain', () => {
          if (this.#sink === sink) req.resume();
        });
      }
    });
    req.on('end', () => {
      this.#ended = true;
      this.#sink?.end();
    });
  }

  get replayable(): boolean {
    return !this.#overflowed;
  }

  /** Streams the body (what came so far, then the rest) to `sink`. */
  sendTo(sink: ClientRequest): void {
    this.#sink = sink;
    for (const chunk of this.#chunks) sink.write(chunk);
    if (this.#ended) sink.end();
    else {
      // The replica may answer before the body ends (or only once it has its headers): let it start.
      if (this.#chunks.length === 0) sink.flushHeaders();
      this.req.resume();
    }
  }

  /** Stops sending; the rest of the body is read and dropped. */
  discard(): void {
    this.#sink = undefined;
    this.#chunks = [];
    this.#overflowed = true;
    this.req.resume();
  }
}

/**
 * The ingress: a reverse proxy on node:http in front of the apps' replicas. It picks a replica by
 * the app's strategy, skips replicas whose circuit breaker is open, retries an idempotent request
 * once on another replica when the first fails before answering, and passes WebSocket upgrades
 * through. Upstream connections are pooled (keep-alive).
 */
export class IngressProxy {
  readonly server: http.Server;
  readonly table: RouteTable;
  readonly metrics: IngressMetrics;
  /** @internal what an Exchange needs of the proxy. */
  readonly internals: { agent: http.Agent; now: () => number; random: () => number; timeoutMs: number; retryBodyLimit: number };
  readonly #options: IngressProxyOptions;
  readonly #agent: http.Agent;
  readonly #tunnels = new Set<Duplex>();
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timeoutMs: number;

  constructor(options: IngressProxyOptions) {
    this.#options = options;
    this.table = new RouteTable(options.breaker ?? DEFAULT_BREAKER);
    this.metrics = options.metrics ?? new IngressMetrics();
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#timeoutMs = options.upstreamTimeoutMs ?? 60_000;
    // LIFO hands out the most recently used connection, so idle ones age out instead of all staying warm.
    this.#agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' });
    this.internals = { agent: this.#agent, now: this.#now, random: this.#random, timeoutMs: this.#timeoutMs, retryBodyLimit: options.retryBodyLimit ?? 64 * 1024 };
    this.server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.#serve(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    this.server.on('clientError', (_error, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Listens; resolves with the port bound (useful with port 0). */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      this.server.once('error', failed);
      this.server.listen(port, host, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
    return this.port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops taking requests, ends open connections and tunnels, and closes pooled upstream connections. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.server.closeAllConnections();
    for (const tunnel of this.#tunnels) tunnel.destroy();
    this.#agent.destroy();
    await closed;
  }

  /** What the ingress knows of an app's replicas now. */
  inspect(tenant: string, name: string): ReplicaReport[] | undefined {
    this.#syncRoutes();
    return this.table.inspect(tenant, name, this.#now());
  }

  #syncRoutes(): void {
    const rejected = this.table.sync(this.#options.source.routes());
    if (rejected.length > 0) this.#options.logger?.warn({ rejected }, 'routes left out: they cannot be served');
  }

  /** The app and target of a request, or an answer already sent when there is none. */
  #route(req: IncomingMessage, refuse: (status: number, code: string, message: string, label: string) => void): { app: AppEntry; target: Target } | undefined {
    this.#syncRoutes();
    const target = resolveTarget(rawHeader(req.rawHeaders, 'host'), req.url ?? '/');
    if (!target) {
      refuse(404, 'APP_NOT_FOUND', `no app is named by this request: ${HOW_TO_REACH}`, NO_APP);
      return undefined;
    }
    const app = this.table.find(target.tenant, target.name);
    if (!app) {
      refuse(404, 'APP_NOT_FOUND', `tenant ${JSON.stringify(target.tenant)} has no running app ${JSON.stringify(target.name)}; ${HOW_TO_REACH}`, NO_APP);
      return undefined;
    }
    if (app.replicas.length === 0) {
      refuse(503, 'NO_HEALTHY_REPLICA', `app ${app.label} has no healthy replica right now; retry shortly, or see its replicas with \`myc apps\``, app.label);
      return undefined;
    }
    return { app, target };
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const routed = this.#route(req, (status, code, message, label) => {
      this.metrics.answered(label, status);
      const body = errorBody(code, message);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(status === 503 ? { 'retry-after': '1' } : {}) });
      res.end(body);
    });
    if (routed) new Exchange(this, routed.app, routed.target, req, res).send();
  }

  /** @internal a replica failed: tells its breaker, and says so when that opened it. */
  replicaFailed(app: AppEntry, replica: ReplicaState, reason: string): void {
    if (!replica.failed(this.#now())) return;
    this.metrics.breakersOpened.inc({ app: app.label });
    this.#options.logger?.warn(
      { app: app.label, replicaId: replica.replica.replicaId, address: replica.replica.address, reason, coolDownMs: replica.breaker.options.coolDownMs },
      'replica failed too often in a row: its circuit breaker is open, traffic goes to the other replicas',
    );
  }

  /** A WebSocket (or other) upgrade: connect to a replica, pass its handshake answer back, then pipe the two sockets. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, code: string, message: string, replica?: ReplicaState) => {
      const body = errorBody(code, message);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `${replica ? `x-mycelium-replica: ${replica.replica.replicaId}\r\n` : ''}connection: close\r\n\r\n${body}`,
      );
    };
    socket.on('error', () => socket.destroy());
    const routed = this.#route(req, (status, code, message, label) => {
      this.metrics.answered(label, status);
      refuse(status, code, message);
    });
    if (!routed) return;
    const { app, target } = routed;
    const attempt = (replica: ReplicaState, retried: boolean) => {
      replica.started();
      const started = this.#now();
      let settled = false;
      const settle = () => {
        if (settled) return false;
        settled = true;
        return true;
      };
      const upstream = http.request({
        host: replica.host,
        port: replica.port,
        method: req.method,
        path: target.path,
        headers: forwardHeaders(req, replica, target, true),
        // A tunnel owns its connection for good: nothing to pool.
        agent: false,
      });
      upstream.setTimeout(this.#timeoutMs, () => upstream.destroy(new UpstreamTimeoutError(`replica ${replica.replica.replicaId} did not answer the upgrade in time`)));
      upstream.on('upgrade', (response: IncomingMessage, tunnel: Socket, tunnelHead: Buffer) => {
        settle();
        tunnel.setTimeout(0);
        replica.succeeded(this.#now() - started, this.#now());
        this.metrics.answered(app.label, 101);
        let head101 = `HTTP/1.1 101 ${response.statusMessage ?? 'Switching Protocols'}\r\n`;
        for (let i = 0; i < response.rawHeaders.length; i += 2) head101 += `${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}\r\n`;
        socket.write(`${head101}x-mycelium-replica: ${replica.replica.replicaId}\r\n\r\n`);
        if (tunnelHead.length > 0) socket.write(tunnelHead);
        if (head.length > 0) tunnel.write(head);
        this.#tunnels.add(socket);
        this.#tunnels.add(tunnel);
        const end = () => {
          if (!this.#tunnels.has(tunnel)) return;
          this.#tunnels.delete(socket);
          this.#tunnels.delete(tunnel);
          replica.finished();
          socket.destroy();
          tunnel.destroy();
        };
        tunnel.on('error', end).on('close', end);
        socket.on('error', end).on('close', end);
        tunnel.pipe(socket);
        socket.pipe(tunnel);
      });
      upstream.on('response', (response) => {
        // The replica declined the upgrade: its answer goes back as it is.
        if (!settle()) return;
        replica.finished();
        if (response.statusCode! >= 500) this.replicaFailed(app, replica, `status ${response.statusCode}`);
        else replica.succeeded(this.#now() - started, this.#now());
        this.metrics.answered(app.label, response.statusCode!);
        let text = `HTTP/1.1 ${response.statusCode} ${response.statusMessage ?? ''}\r\n`;
        const headers = responseHeaders(response.rawHeaders, replica);
        for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
        socket.write(`${text}connection: close\r\n\r\n`);
        response.pipe(socket);
      });
      upstream.on('error', (error: Error & { code?: string }) => {
        if (!settle()) return;
        replica.finished();
        if (socket.destroyed) {
          replica.breaker.abandoned();
          return;
        }
        this.replicaFailed(app, replica, error.code ?? error.message);
        const timeout = error instanceof UpstreamTimeoutError;
        // Like a request, an upgrade moves once to another replica, unless waiting for this one already took long.
        const next = retried || timeout ? undefined : this.table.choose(app, this.#now(), this.#random, replica);
        if (next) {
          this.metrics.retries.inc({ app: app.label });
          attempt(next, true);
          return;
        }
        this.metrics.answered(app.label, timeout ? 504 : 502);
        refuse(
          timeout ? 504 : 502,
          timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_FAILED',
          timeout ? `a replica of ${app.label} did not answer in time` : `a replica of ${app.label} failed (${error.code ?? error.message}); retry`,
          replica,
        );
      });
      upstream.end();
    };
    const first = this.table.choose(app, this.#now(), this.#random);
    if (first) attempt(first, false);
  }
}

/** One request through the ingress: its attempts (at most two) and its answer. */
class Exchange {
  readonly #proxy: IngressProxy;
  readonly #app: AppEntry;
  readonly #target: Target;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #body: ReplayableBody | undefined;
  readonly #idempotent: boolean;
  #retried = false;
  #current: ClientRequest | undefined;
  #clientGone = false;

  constructor(proxy: IngressProxy, app: AppEntry, target: Target, req: IncomingMessage, res: ServerResponse) {
    this.#proxy = proxy;
    this.#app = app;
    this.#target = target;
    this.#req = req;
    this.#res = res;
    this.#idempotent = IDEMPOTENT.has(req.method ?? '');
    const length = rawHeader(req.rawHeaders, 'content-length');
    const hasBody = rawHeader(req.rawHeaders, 'transfer-encoding') !== undefined || (length !== undefined && length !== '0');
    this.#body = hasBody ? new ReplayableBody(req, this.#idempotent ? proxy.internals.retryBodyLimit : 0) : undefined;
    res.on('close', () => {
      if (res.writableFinished) return;
      // The client went away before its answer was complete: nothing more to do for it.
      this.#clientGone = true;
      this.#current?.destroy();
    });
  }

  send(): void {
    const { now, random } = this.#proxy.internals;
    this.#attempt(this.#proxy.table.choose(this.#app, now(), random)!);
  }

  #attempt(replica: ReplicaState): void {
    const { agent, now, timeoutMs } = this.#proxy.internals;
    const proxy = this.#proxy;
    const app = this.#app;
    const res = this.#res;
    replica.started();
    const started = now();
    /** Whether this attempt's outcome has been counted (several events may tell of it). */
    let settled = false;
    const upstream = http.request({
      agent,
      host: replica.host,
      port: replica.port,
      method: this.#req.method,
      path: this.#target.path,
      headers: forwardHeaders(this.#req, replica, this.#target, false),
    });
    this.#current = upstream;
    upstream.setTimeout(timeoutMs, () => upstream.destroy(new UpstreamTimeoutError(`replica ${replica.replica.replicaId} was silent for ${timeoutMs} ms`)));
    upstream.on('response', (response) => {
      const status = response.statusCode!;
      const answeredAt = now();
      proxy.metrics.upstreamAnswered(app.label, (answeredAt - started) / 1000);
      if (status >= 500) proxy.replicaFailed(app, replica, `status ${status}`);
      else replica.succeeded(answeredAt - started, answeredAt);
      if (RETRY_STATUSES.has(status) && this.#retryFrom(replica)) {
        settled = true;
        replica.finished();
        response.resume();
        return;
      }
      const headers = responseHeaders(response.rawHeaders, replica);
      if (response.statusMessage) res.writeHead(status, response.statusMessage, headers);
      else res.writeHead(status, headers);
      // Headers usually leave with the first bytes of the body; when the body is slow to come (a
      // stream of events), they leave on their own so the client knows the answer has begun. The
      // microtask runs after any body that came with the headers was passed on (the stream resumes
      // on the tick before), so it flushes only when the body has not begun.
      let bodyStarted = false;
      queueMicrotask(() => {
        if (!bodyStarted && !res.destroyed && !res.writableEnded) res.flushHeaders();
      });
      response.on('error', () => undefined);
      response.on('data', (chunk: Buffer) => {
        bodyStarted = true;
        if (!res.write(chunk)) response.pause();
      });
      res.on('drain', () => response.resume());
      response.on('end', () => {
        res.end();
        if (settled) return;
        settled = true;
        replica.finished();
        proxy.metrics.answered(app.label, status);
      });
      response.on('close', () => {
        if (settled) return;
        // The replica broke off mid-answer: the client cannot get the rest, so it must not take a truncated body for whole.
        settled = true;
        replica.finished();
        if (!this.#clientGone) proxy.replicaFailed(app, replica, 'connection closed mid-response');
        res.destroy();
      });
    });
    upstream.on('error', (error: Error & { code?: string }) => {
      if (settled) return;
      settled = true;
      replica.finished();
      if (this.#clientGone) {
        replica.breaker.abandoned();
        return;
      }
      proxy.replicaFailed(app, replica, error.code ?? error.message);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (!(error instanceof UpstreamTimeoutError) && this.#retryFrom(replica)) return;
      const timeout = error instanceof UpstreamTimeoutError;
      const status = timeout ? 504 : 502;
      const body = errorBody(
        timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_FAILED',
        timeout ? `a replica of ${app.label} did not answer in time` : `a replica of ${app.label} failed (${error.code ?? error.message}); retry`,
      );
      this.#body?.discard();
      proxy.metrics.answered(app.label, status);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-mycelium-replica': replica.replica.replicaId });
      res.end(body);
    });
    if (this.#body) this.#body.sendTo(upstream);
    else upstream.end();
  }

  /** Sends the request once more to another replica when that is safe; false when it is not. */
  #retryFrom(failed: ReplicaState): boolean {
    if (this.#retried || !this.#idempotent || this.#clientGone || (this.#body && !this.#body.replayable)) return false;
    const { now, random } = this.#proxy.internals;
    const next = this.#proxy.table.choose(this.#app, now(), random, failed);
    if (!next) return false;
    this.#retried = true;
    this.#proxy.metrics.retries.inc({ app: this.#app.label });
    this.#attempt(next);
    return true;
  }
}
