import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AppRoute, LoadBalancingStrategy } from '@mycelium/contracts';

/** What a test replica saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP server standing in for one replica of an app. */
export interface TestReplica {
  id: string;
  port: number;
  address: string;
  seen: SeenRequest[];
  server: http.Server;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** By default a replica answers 200 with its id and what it saw, as JSON. */
const describeRequest: Handler = (req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ method: req.method, url: req.url, body }));
};

/** The Sec-WebSocket-Accept answer to a key (RFC 6455 §4.2.2). */
export const websocketAccept = (key: string) => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

/**
 * Starts a replica on `port` (0: any free port). It records what it receives, answers with
 * `handler` (or describes the request), and accepts WebSocket upgrades, echoing every byte back.
 */
export async function startReplica(id: string, options: { port?: number; handler?: Handler; raw?: (req: IncomingMessage, res: ServerResponse) => void } = {}): Promise<TestReplica> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    res.setHeader('x-replica', id);
    if (options.raw) {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: '' });
      options.raw(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      (options.handler ?? describeRequest)(req, res, body);
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: '' });
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${websocketAccept(String(req.headers['sec-websocket-key']))}\r\nX-Replica: ${id}\r\n\r\n`,
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    id,
    port,
    address: `127.0.0.1:${port}`,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on (a replica that died): one that was free a moment ago. */
export async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let apps = 0;

/** A route of tenant acme to `replicas` ({ id, address } or a replica). */
export function routeTo(name: string, replicas: { id: string; address: string; weight?: number }[], strategy: LoadBalancingStrategy = 'round-robin'): AppRoute {
  apps += 1;
  return {
    appId: `app_${String(apps).padStart(12, '0')}`,
    tenant: 'acme',
    name,
    strategy,
    replicas: replicas.map((replica) => ({ replicaId: replica.id, nodeId: `node-${replica.id}`, address: replica.address, weight: replica.weight ?? 1 })),
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/** One request to 127.0.0.1:`port` on a connection of its own, with any Host header (fetch cannot set one). */
export function send(
  port: number,
  path: string,
  options: { method?: string; host?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: { ...(options.host ? { host: options.host } : {}), ...options.headers } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: response.statusCode!, headers: response.headers, text, json: <T>() => JSON.parse(text) as T });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}
