import { createLogger, type Logger, startTracing } from '@mycelium/telemetry';
import { DEFAULT_PORTS, type GridConfig, loadConfig } from './config.js';
import { NatsUnreachableError } from './connect.js';
import { openRuntime, type RunningService, type Runtime, type ServiceDefinition, startService } from './service.js';
import { Topology } from './topology.js';

export interface HostedGrid {
  runtime: Runtime;
  services: RunningService[];
  /** Stops the services (recording their stop), then the relay and the store. */
  stop(reason?: 'shutdown' | 'signal'): Promise<void>;
}

export interface HostServicesOptions {
  config: GridConfig;
  logger: Logger;
  /** HTTP port per service; default: DEFAULT_PORTS, else a free one. */
  ports?: Record<string, number>;
}

/**
 * Runs several services in this process on one event store and one relay. This is how the local
 * grid runs on the embedded store, which only one process may open (docs/adr/0004).
 */
export async function hostServices(definitions: ServiceDefinition[], options: HostServicesOptions): Promise<HostedGrid> {
  const { config, logger } = options;
  const runtime = await openRuntime({ config, topology: new Topology(config.namespace), logger, relay: config.relay });
  const services: RunningService[] = [];
  try {
    for (const definition of definitions) {
      const port = options.ports?.[definition.name] ?? DEFAULT_PORTS[definition.name] ?? 0;
      services.push(await startService(definition, runtime, { port, host: config.host }));
    }
  } catch (error) {
    await Promise.allSettled(services.map((service) => service.stop('error', (error as Error).message)));
    await runtime.close();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    runtime,
    services,
    stop: (reason = 'shutdown') =>
      (stopping ??= (async () => {
        await Promise.allSettled(services.map((service) => service.stop(reason)));
        await runtime.close();
      })()),
  };
}

/**
 * The `main` of a service run as its own process: reads the environment, starts the service and a
 * relay candidate, and stops cleanly on SIGTERM or SIGINT.
 */
export async function runServiceProcess(definition: ServiceDefinition, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const logger = createLogger({ name: definition.name });
  const stopTracing = startTracing({ serviceName: `mycelium-${definition.name}`, serviceVersion: definition.version });
  const config = { ...loadConfig(env), natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222' };
  const port = env.PORT !== undefined ? Number(env.PORT) : (DEFAULT_PORTS[definition.name] ?? 0);
  let grid: HostedGrid;
  try {
    grid = await hostServices([definition], { config, logger, ports: { [definition.name]: port } });
  } catch (error) {
    logger.fatal({ err: error }, startupHint(error, config));
    await stopTracing();
    process.exit(1);
  }
  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'stopping');
    void grid
      .stop('signal')
      .then(stopTracing)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'unclean stop');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** One sentence that tells the operator what to do about a failed start. */
export function startupHint(error: unknown, config: GridConfig): string {
  if (error instanceof NatsUnreachableError) return error.message;
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' && config.databaseUrl) {
    return `PostgreSQL does not answer at ${config.databaseUrl}: start it, or unset DATABASE_URL to use the embedded store`;
  }
  if (code === 'EADDRINUSE') return `${(error as Error).message}: another process uses that port; set PORT to another one`;
  return `could not start: ${(error as Error).message}`;
}
