import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { type AppRoute, ListRoutes } from '@mycelium/contracts';
import type { CommandClient, Topology } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import type { RouteSource } from './route-source.js';

export interface DeploymentRouteSourceOptions {
  client: CommandClient;
  nc: NatsConnection;
  topology: Topology;
  logger: Logger;
  /** How often to ask even without a nudge; default 2 s. */
  refreshMs?: number;
  /** How long deployment has to answer one ask; default 1.5 s, below the refresh period. */
  timeoutMs?: number;
}

/** Any event of an app (deployed, scaled, replica healthy or not, stopped…) may change its routes. */
const APP_EVENTS = 'evt.deployment.app.>';

/**
 * The routes deployment serves, asked with ListRoutes at start, every `refreshMs`, and at once when
 * an app event goes by on NATS. When deployment does not answer, the last routes stay in use: an
 * ingress that forgot every app during a deployment restart would turn it into an outage.
 */
export class DeploymentRouteSource implements RouteSource {
  readonly #options: Required<DeploymentRouteSourceOptions>;
  #routes: readonly AppRoute[] = [];
  #routesJson = '[]';
  #timer: NodeJS.Timeout | undefined;
  #subscription: Subscription | undefined;
  #refreshing: Promise<void> | undefined;
  #askAgain = false;
  #answering: boolean | undefined;
  #stopped = false;

  constructor(options: DeploymentRouteSourceOptions) {
    this.#options = { refreshMs: 2000, timeoutMs: 1500, ...options };
  }

  routes(): readonly AppRoute[] {
    return this.#routes;
  }

  /** Whether deployment answered the last ask (undefined before the first). */
  get answering(): boolean | undefined {
    return this.#answering;
  }

  /** Subscribes to app events and asks for the routes once; resolves even when deployment is away. */
  async start(): Promise<void> {
    const { nc, topology, logger, refreshMs } = this.#options;
    this.#subscription = nc.subscribe(topology.subject(APP_EVENTS), {
      callback: (error) => {
        if (error) logger.warn({ err: error }, 'the subscription to app events failed; routes refresh every period only');
        else void this.refresh();
      },
    });
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), refreshMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    if (this.#subscription && !this.#subscription.isClosed()) this.#subscription.unsubscribe();
    await this.#refreshing;
  }

  /**
   * Asks deployment for the routes. One ask at a time: a call during an ask makes one more ask
   * after it, since the event that caused the call may have come after deployment answered.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#askAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#askAgain = false;
          await this.#ask();
        } while (this.#askAgain && !this.#stopped);
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #ask(): Promise<void> {
    const { client, logger, timeoutMs } = this.#options;
    let failure: string | undefined;
    try {
      const reply = await client.send(ListRoutes, {}, { timeoutMs });
      if (!reply.ok) failure = `${reply.error.code}: ${reply.error.message}`;
      else if (!Array.isArray(reply.result?.routes)) failure = 'the reply has no routes list';
      else this.#take(reply.result.routes);
    } catch (error) {
      failure = (error as Error).message;
    }
    if (failure !== undefined && this.#answering !== false) {
      logger.warn({ reason: failure, routes: this.#routes.length }, 'deployment does not answer ListRoutes; the ingress keeps serving the routes it has');
    } else if (failure === undefined && this.#answering === false) {
      logger.info({ routes: this.#routes.length }, 'deployment answers ListRoutes again');
    }
    this.#answering = failure === undefined;
  }

  #take(routes: AppRoute[]): void {
    const json = JSON.stringify(routes);
    // Same routes, same array: the route table then has nothing to rebuild.
    if (json === this.#routesJson) return;
    this.#routesJson = json;
    this.#routes = routes;
    this.#options.logger.debug({ apps: routes.length }, 'routes changed');
  }
}
