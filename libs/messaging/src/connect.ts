import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@mycelium/telemetry';

export interface ConnectNatsOptions {
  url: string;
  /** Shown in the server's connection list: which process and service this is. */
  name: string;
  logger?: Logger;
  /** Give up after this long when the first connection fails. */
  timeoutMs?: number;
  /** A .creds file's content, for servers in operator mode. */
  creds?: string;
}

const linkStates = new WeakMap<NatsConnection, { state: 'connected' | 'reconnecting'; since: number }>();

/** Whether a connection made by {@link connectNats} is up, reconnecting, draining or closed. */
export function natsLinkState(nc: NatsConnection): 'connected' | 'reconnecting' | 'draining' | 'closed' {
  if (nc.isClosed()) return 'closed';
  if (nc.isDraining()) return 'draining';
  return linkStates.get(nc)?.state ?? 'connected';
}

/**
 * Since when (ms since the epoch) a connection made by {@link connectNats} has been up without a
 * break; undefined while it is not. Whoever judges others by their silence starts counting here.
 */
export function natsConnectedSince(nc: NatsConnection): number | undefined {
  if (natsLinkState(nc) !== 'connected') return undefined;
  return linkStates.get(nc)?.since ?? 0;
}

/** Thrown when no NATS server answers at the configured address. */
export class NatsUnreachableError extends Error {
  constructor(url: string, options?: { cause?: unknown }) {
    super(`no NATS server answers at ${url}: start one (e.g. infra/ensure-services.sh) or set NATS_URL`, options);
    this.name = 'NatsUnreachableError';
  }
}

/**
 * Connects to NATS and keeps reconnecting for ever after a loss: a service rides out a NATS
 * restart instead of dying with it.
 */
export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: options.url,
      name: options.name,
      timeout: options.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
      ...(options.creds ? { authenticator: credsAuthenticator(new TextEncoder().encode(options.creds)) } : {}),
    });
  } catch (error) {
    throw new NatsUnreachableError(options.url, { cause: error });
  }
  const logger = options.logger;
  linkStates.set(nc, { state: 'connected', since: Date.now() });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        linkStates.set(nc, { state: 'reconnecting', since: Date.now() });
        logger?.warn({ server: status.server }, 'lost the NATS connection; reconnecting');
      } else if (status.type === 'reconnect') {
        linkStates.set(nc, { state: 'connected', since: Date.now() });
        logger?.info({ server: status.server }, 'reconnected to NATS');
      } else if (status.type === 'error') {
        logger?.error({ err: status.error }, 'NATS connection error');
      }
    }
  })();
  return nc;
}

/**
 * Lets pending messages flush, but not for ever: a connection that is reconnecting to a server
 * that is gone would never finish draining.
 */
export async function closeNats(nc: NatsConnection, timeoutMs = 2000): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([nc.drain().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}
