import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { type AppRoute, ReplicaCircuitOpened, type RouteReplica } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { COMMAND_CLIENT, type CommandClient, EVENT_STORE, NATS_CONNECTION, SERVICE_LOGGER, SERVICE_METRICS, TOPOLOGY, type Topology } from '@mycelium/messaging';
import type { Logger, ServiceMetrics } from '@mycelium/telemetry';
import { DeploymentRouteSource } from './deployment-route-source.js';
import { IngressProxy } from './ingress-proxy.js';
import { IngressMetrics } from './ingress.metrics.js';

export const DEFAULT_INGRESS_PORT = 8081;
/** A replica's breaker trips are recorded at most this often. */
const CIRCUIT_RECORD_EVERY_MS = 60_000;

export interface IngressSettings {
  port: number;
  /** Whether the port was asked for (MYCELIUM_INGRESS_PORT), rather than the default. */
  portGiven: boolean;
  host: string;
}

/** Where the ingress listens: MYCELIUM_INGRESS_PORT (default 8081; 0 picks a free port) on HOST, as the gateway. */
export function ingressSettings(env: NodeJS.ProcessEnv = process.env): IngressSettings {
  const text = env.MYCELIUM_INGRESS_PORT?.trim();
  const host = env.HOST || '127.0.0.1';
  if (!text) return { port: DEFAULT_INGRESS_PORT, portGiven: false, host };
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) throw new Error(`MYCELIUM_INGRESS_PORT must be a port number from 0 to 65535 (0: any free port), not ${JSON.stringify(text)}`);
  return { port, portGiven: true, host };
}

/**
 * The gateway's ingress, started and stopped with it: the proxy on its own port, fed by deployment's
 * routes. Its metrics join the gateway's /metrics.
 */
@Injectable()
export class Ingress implements OnApplicationBootstrap, BeforeApplicationShutdown {
  #proxy: IngressProxy | undefined;
  #source: DeploymentRouteSource | undefined;
  readonly #recorded = new Map<string, number>();

  constructor(
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_METRICS) private readonly metrics: ServiceMetrics,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  /** The port the ingress listens on, once started. */
  get port(): number | undefined {
    return this.#proxy?.server.listening ? this.#proxy.port : undefined;
  }

  get proxy(): IngressProxy | undefined {
    return this.#proxy;
  }

  async onApplicationBootstrap(): Promise<void> {
    const settings = ingressSettings();
    const logger = this.logger.child({ component: 'ingress' });
    const source = new DeploymentRouteSource({ client: this.client, nc: this.nc, topology: this.topology, logger });
    await source.start();
    const proxy = new IngressProxy({
      source,
      logger,
      metrics: new IngressMetrics(this.metrics.registry),
      onCircuitOpened: ({ route, replica, reason }) => void this.#recordCircuitOpened(route, replica, reason, logger),
    });
    try {
      await proxy.listen(settings.port, settings.host);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE') {
        await source.stop();
        throw error;
      }
      if (settings.portGiven) {
        await source.stop();
        throw new Error(`the ingress cannot listen on ${settings.host}:${settings.port} (MYCELIUM_INGRESS_PORT): another process uses it; choose another port`, { cause: error });
      }
      // Another gateway on this machine (a second grid, a test) has the default port: this one still serves its apps.
      await proxy.listen(0, settings.host);
      logger.warn({ port: proxy.port, taken: settings.port }, `port ${settings.port} is taken: the ingress listens on ${proxy.port} instead; set MYCELIUM_INGRESS_PORT to choose`);
    }
    this.#source = source;
    this.#proxy = proxy;
    logger.info({ host: settings.host, port: proxy.port, routes: source.routes().length }, 'ingress listening');
  }

  /**
   * Records the trip as a fact of the app's ingress stream, at most once a minute per replica: a
   * replica that keeps failing must not flood the log, and one trip a minute is all healing needs.
   */
  async #recordCircuitOpened(route: AppRoute, replica: RouteReplica, reason: string, logger: Logger): Promise<void> {
    const now = Date.now();
    if (now - (this.#recorded.get(replica.replicaId) ?? 0) < CIRCUIT_RECORD_EVERY_MS) return;
    this.#recorded.set(replica.replicaId, now);
    if (this.#recorded.size > 10_000) this.#recorded.clear();
    await this.store
      .append(`gateway/ingress/${route.appId}`, [
        {
          type: ReplicaCircuitOpened.type,
          data: { appId: route.appId, tenant: route.tenant, replicaId: replica.replicaId, nodeId: replica.nodeId, address: replica.address, reason: reason.slice(0, 500), at: new Date(now).toISOString() },
          metadata: { tenant: route.tenant },
        },
      ])
      .catch((error: unknown) => logger.warn({ err: error, replicaId: replica.replicaId }, 'could not record a circuit breaker trip'));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.#proxy?.close();
    await this.#source?.stop();
  }
}
