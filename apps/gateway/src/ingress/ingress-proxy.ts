import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { AppRoute, RouteReplica } from '@mycelium/contracts';
import type { Logger } from '@mycelium/telemetry';
import { type BreakerOptions, DEFAULT_BREAKER } from './circuit-breaker.js';
import { IngressMetrics, NO_APP } from './ingress.metrics.js';
import { seededRandom } from './seeded-random.js';
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
  /** Told when a replica's breaker opens: the grid records it as a fact (healing watches it). */
  onCircuitOpened?: (opened: { route: AppRoute; replica: RouteReplica; reason: string }) => void;
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

/** Why an attempt is dropped when its client left: not the replica's failing. */
class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  readonly code = 'CLIENT_GONE';
}

/** The codes of a replica that did not connect, answer or go on answering in time: ours (node:http) and undici's. */
const TIMEOUT_CODES = new Set(['UPSTREAM_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** A failure as logs and error bodies name it: the system's code (ECONNREFUSED), else what undici says ("other side closed"). */
const reasonOf = (error: Error & { code?: string }) => (error.code && !error.code.startsWith('UND_ERR') ? error.code : error.message);

/** A header name or value as text: node:http gives strings, undici Buffers (bytes as latin1, as HTTP/1.1 has them). */
const text = (value: string | Buffer): string => (typeof value === 'string' ? value : value.toString('latin1'));

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

type RawHeaders = readonly string[] | readonly Buffer[];

/** The value of a header in raw headers ([name, value, name, value…]), the first if repeated. */
function rawHeader(raw: RawHeaders, lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && text(name).toLowerCase() === lowerName) return text(raw[i + 1]!);
  }
  return undefined;
}

/** Headers a Connection header names are hop-by-hop too; `keep-alive` and `close` (the usual values) name none. */
function connectionTokens(value: string | undefined): Set<string> | undefined {
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
 * headers spares building header objects on both sides: this runs twice per request, in one pass
 * unless the Connection header names further headers (rare).
 */
function endToEnd(raw: RawHeaders, skip?: (lowerName: string) => boolean): string[] {
  const kept: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i]!);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') connection ??= text(raw[i + 1]!);
      continue;
    }
    if (skip?.(lower)) continue;
    kept.push(name, text(raw[i + 1]!));
  }
  const named = connectionTokens(connection);
  if (!named) return kept;
  const left: string[] = [];
  for (let i = 0; i < kept.length; i += 2) if (!named.has(kept[i]!.toLowerCase())) left.push(kept[i]!, kept[i + 1]!);
  return left;
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
function responseHeaders(raw: RawHeaders, replica: ReplicaState): string[] {
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
  #sink: Readable | undefined;

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
      if (this.#sink && !this.#sink.push(chunk)) req.pause();
    });
    req.on('end', () => {
      this.#ended = true;
      this.#sink?.push(null);
    });
  }

  get replayable(): boolean {
    return !this.#overflowed;
  }

  /** Whether any of the body came yet (or all of it, none). */
  get begun(): boolean {
    return this.#ended || this.#size > 0;
  }

  /** The body for one attempt, as a stream: what came so far, then the rest. A previous attempt's stream is cut off. */
  stream(): Readable {
    this.#sink?.destroy();
    const sink: Readable = new Readable({
      read: () => {
        if (this.#sink === sink) this.req.resume();
      },
    });
    this.#sink = sink;
    for (const chunk of this.#chunks) sink.push(chunk);
    if (this.#ended) sink.push(null);
    return sink;
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
 * through. Requests without a body go to the replicas through undici (a pool of keep-alive
 * connections per replica); those with one, and upgrades, through node:http (see Exchange).
 */
export class IngressProxy {
  readonly server: http.Server;
  readonly table: RouteTable;
  readonly metrics: IngressMetrics;
  /** @internal what an Exchange needs of the proxy. */
  readonly internals: { upstream: Dispatcher; agent: http.Agent; now: () => number; random: () => number; timeoutMs: number; retryBodyLimit: number };
  readonly #options: IngressProxyOptions;
  readonly #upstream: Agent;
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
    this.#random = options.random ?? seededRandom();
    this.#timeoutMs = options.upstreamTimeoutMs ?? 60_000;
    // undici's client costs a fraction of node:http's per request. One request per connection at a
    // time (no pipelining: a slow answer must not hold up the next); an idle connection is kept 30 s,
    // or less when the replica says so (Keep-Alive: timeout=…).
    this.#upstream = new Agent({
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: this.#timeoutMs },
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    // LIFO hands out the most recently used connection, so idle ones age out instead of all staying warm.
    this.#agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' });
    this.internals = { upstream: this.#upstream, agent: this.#agent, now: this.#now, random: this.#random, timeoutMs: this.#timeoutMs, retryBodyLimit: options.retryBodyLimit ?? 64 * 1024 };
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
    await Promise.all([closed, this.#upstream.destroy()]);
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
    this.#options.onCircuitOpened?.({ route: app.route, replica: replica.replica, reason });
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
  readonly proxy: IngressProxy;
  readonly app: AppEntry;
  readonly res: ServerResponse;
  /** The client went away before its answer was complete: nothing more to do for it. */
  clientGone = false;
  readonly #target: Target;
  readonly #req: IncomingMessage;
  readonly #body: ReplayableBody | undefined;
  readonly #idempotent: boolean;
  #retried = false;
  #current: Attempt | undefined;

  constructor(proxy: IngressProxy, app: AppEntry, target: Target, req: IncomingMessage, res: ServerResponse) {
    this.proxy = proxy;
    this.app = app;
    this.res = res;
    this.#target = target;
    this.#req = req;
    this.#idempotent = IDEMPOTENT.has(req.method ?? '');
    const length = rawHeader(req.rawHeaders, 'content-length');
    const hasBody = rawHeader(req.rawHeaders, 'transfer-encoding') !== undefined || (length !== undefined && length !== '0');
    this.#body = hasBody ? new ReplayableBody(req, this.#idempotent ? proxy.internals.retryBodyLimit : 0) : undefined;
    res.on('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.#current?.abort();
    });
  }

  send(): void {
    const { now, random } = this.proxy.internals;
    this.#attempt(this.proxy.table.choose(this.app, now(), random)!);
  }

  /**
   * Sends the request to `replica`. Without a body (most requests) it goes through undici, whose
   * client costs a fraction of node:http's. With one it goes through node:http: undici sends a
   * request's head only with the first bytes of its body, and a client may wait for the answer's
   * head before it sends any (a stream both ways), so the head must leave on its own.
   */
  #attempt(replica: ReplicaState): void {
    const { upstream, now } = this.proxy.internals;
    replica.started();
    const attempt = new Attempt(this, replica, now());
    this.#current = attempt;
    const headers = forwardHeaders(this.#req, replica, this.#target, false);
    if (this.#body) this.#sendWithBody(replica, headers, this.#body, attempt);
    else upstream.dispatch({ origin: `http://${replica.replica.address}`, method: this.#req.method!, path: this.#target.path, headers, body: null }, attempt);
  }

  /** The attempt through node:http, its events told to the same handler as undici's. */
  #sendWithBody(replica: ReplicaState, headers: string[], body: ReplayableBody, attempt: Attempt): void {
    const { agent, timeoutMs } = this.proxy.internals;
    const upstream = http.request({ agent, host: replica.host, port: replica.port, method: this.#req.method, path: this.#target.path, headers });
    let response: IncomingMessage | undefined;
    const controller: Dispatcher.DispatchController = {
      aborted: false,
      paused: false,
      reason: null,
      abort: (reason: Error) => upstream.destroy(reason),
      pause: () => response?.pause(),
      resume: () => response?.resume(),
    };
    attempt.onRequestStart(controller);
    upstream.setTimeout(timeoutMs, () => upstream.destroy(new UpstreamTimeoutError(`replica ${replica.replica.replicaId} was silent for ${timeoutMs} ms`)));
    upstream.on('error', (error: Error) => attempt.onResponseError(controller, error));
    upstream.on('response', (answer: IncomingMessage) => {
      response = answer;
      controller.rawHeaders = answer.rawHeaders;
      attempt.onResponseStart(controller, answer.statusCode!, answer.headers, answer.statusMessage);
      answer.on('error', () => undefined);
      answer.on('data', (chunk: Buffer) => attempt.onResponseData(controller, chunk));
      answer.on('end', () => attempt.onResponseEnd());
      answer.on('close', () => {
        if (!answer.complete) attempt.onResponseError(controller, new Error('connection closed mid-response'));
      });
    });
    const stream = body.stream();
    // A body cut off (the client left, or a retry took over) leaves this request unfinished: drop it.
    stream.on('close', () => {
      if (!stream.readableEnded) upstream.destroy();
    });
    // The replica may answer before the body ends (or only once it has its headers): let it start.
    if (!body.begun) upstream.flushHeaders();
    stream.pipe(upstream);
  }

  /** Sends the request once more to another replica when that is safe; false when it is not. */
  retryFrom(failed: ReplicaState): boolean {
    if (this.#retried || !this.#idempotent || this.clientGone || (this.#body && !this.#body.replayable)) return false;
    const { now, random } = this.proxy.internals;
    const next = this.proxy.table.choose(this.app, now(), random, failed);
    if (!next) return false;
    this.#retried = true;
    this.proxy.metrics.retries.inc({ app: this.app.label });
    this.#attempt(next);
    return true;
  }

  /** Answers with the ingress' own error, the replica having failed before answering. */
  fail(timeout: boolean, reason: string, replica: ReplicaState): void {
    const { app, res } = this;
    const status = timeout ? 504 : 502;
    const body = errorBody(
      timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_FAILED',
      timeout ? `a replica of ${app.label} did not answer in time` : `a replica of ${app.label} failed (${reason}); retry`,
    );
    this.#body?.discard();
    this.proxy.metrics.answered(app.label, status);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-mycelium-replica': replica.replica.replicaId });
    res.end(body);
  }
}

/**
 * One attempt of an exchange on one replica, as undici's handler of it: the replica's answer
 * streams to the client as it comes, with undici pausing the replica while the client is slow.
 */
class Attempt implements Dispatcher.DispatchHandler {
  readonly #exchange: Exchange;
  readonly #replica: ReplicaState;
  readonly #started: number;
  #controller: Dispatcher.DispatchController | undefined;
  /** Whether this attempt's outcome has been counted (undici may tell of it more than once). */
  #settled = false;
  /** Whether the replica's answer is being passed on: its head went to the client. */
  #answering = false;
  /** Whether the answer is dropped, another replica being asked instead (its body is read and thrown away). */
  #dropped = false;
  #bodyStarted = false;
  #status = 0;

  constructor(exchange: Exchange, replica: ReplicaState, started: number) {
    this.#exchange = exchange;
    this.#replica = replica;
    this.#started = started;
  }

  /** The client left: the attempt stops, and its connection to the replica with it. */
  abort(): void {
    this.#controller?.abort(new ClientGoneError('the client left before its answer was complete'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // The client may have left while the request waited for a connection.
    if (this.#exchange.clientGone) this.abort();
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, _headers: unknown, statusMessage?: string): void {
    const exchange = this.#exchange;
    const { proxy, app, res } = exchange;
    const replica = this.#replica;
    const answeredAt = proxy.internals.now();
    proxy.metrics.upstreamAnswered(app.label, (answeredAt - this.#started) / 1000);
    if (status >= 500) proxy.replicaFailed(app, replica, `status ${status}`);
    else replica.succeeded(answeredAt - this.#started, answeredAt);
    if (RETRY_STATUSES.has(status) && exchange.retryFrom(replica)) {
      this.#settled = true;
      this.#dropped = true;
      replica.finished();
      return;
    }
    this.#status = status;
    this.#answering = true;
    // Both transports hand the head over as it came: undici as bytes, node:http as strings.
    const headers = responseHeaders(controller.rawHeaders as RawHeaders, replica);
    if (statusMessage) res.writeHead(status, statusMessage, headers);
    else res.writeHead(status, headers);
    // Headers usually leave with the first bytes of the body; when the body is slow to come (a
    // stream of events), they leave on their own so the client knows the answer has begun. undici
    // passes on the body that came with the head before this microtask runs, so it flushes only
    // when the body has not begun.
    queueMicrotask(() => {
      if (!this.#bodyStarted && !res.destroyed && !res.writableEnded) res.flushHeaders();
    });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#dropped) return;
    this.#bodyStarted = true;
    const res = this.#exchange.res;
    if (!res.write(chunk)) {
      controller.pause();
      res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.#dropped) return;
    const { proxy, app, res } = this.#exchange;
    res.end();
    if (this.#settled) return;
    this.#settled = true;
    this.#replica.finished();
    proxy.metrics.answered(app.label, this.#status);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error & { code?: string }): void {
    if (this.#settled) return;
    this.#settled = true;
    const exchange = this.#exchange;
    const { proxy, app, res } = exchange;
    const replica = this.#replica;
    replica.finished();
    if (exchange.clientGone) {
      // Nobody waits for the answer: the replica is neither blamed nor, once it answered, counted again.
      if (!this.#answering) replica.breaker.abandoned();
      return;
    }
    if (this.#answering || res.headersSent) {
      // The replica broke off mid-answer: the client cannot get the rest, so it must not take a truncated body for whole.
      proxy.replicaFailed(app, replica, 'connection closed mid-response');
      res.destroy();
      return;
    }
    const reason = reasonOf(error);
    proxy.replicaFailed(app, replica, reason);
    const timeout = error.code !== undefined && TIMEOUT_CODES.has(error.code);
    // A timeout is not retried: waiting for one replica already took long.
    if (!timeout && exchange.retryFrom(replica)) return;
    exchange.fail(timeout, reason, replica);
  }
}
