import 'reflect-metadata';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { type DynamicModule, type INestApplication, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestMicroservice } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import {
  type ContractDefinition,
  ContractRegistry,
  GRID_SERVICES,
  type GridService,
  gridContracts,
  instanceLifecycle,
  type InstanceLifecycleContracts,
  isNameToken,
  lifecycleOf,
  streamId,
} from '@mycelium/contracts';
import { type EventStore, openEventStore } from '@mycelium/eventstore';
import { currentMessageContext, type Logger, NestPinoLogger, ProcessMetrics, ServiceMetrics } from '@mycelium/telemetry';
import { CommandClient } from './commands.js';
import { embeddedStoreDir, type GridConfig } from './config.js';
import { closeNats, connectNats } from './connect.js';
import { HealthController, type ServiceInfo } from './health.controller.js';
import { Relay } from './relay.js';
import {
  COMMAND_CLIENT,
  CONTRACT_REGISTRY,
  EVENT_STORE,
  NATS_CONNECTION,
  PROCESS_METRICS,
  SERVICE_INFO,
  SERVICE_LOGGER,
  SERVICE_METRICS,
  TOPOLOGY,
} from './tokens.js';
import type { Topology } from './topology.js';
import { type ConsumerTuning, MyceliumTransport, PassErrorsToTransport } from './transport.js';

/** A service: its name, the Nest module holding its handlers, and the contracts it owns. */
export interface ServiceDefinition {
  name: string;
  version?: string;
  module: Type<unknown> | DynamicModule;
  /** Contracts this service defines; the grid's own are always known. */
  contracts?: ContractDefinition[];
  /** Adjusts the HTTP app before it listens (an OpenAPI page, say). */
  configure?: (app: INestApplication) => void | Promise<void>;
}

export function defineService(definition: ServiceDefinition): ServiceDefinition {
  if (!isNameToken(definition.name)) throw new Error(`service name ${JSON.stringify(definition.name)} must be kebab-case`);
  return definition;
}

/** What the services of one process share: the event store, the bus address, the relay. */
export interface Runtime {
  store: EventStore;
  natsUrl: string;
  natsCreds?: string;
  topology: Topology;
  logger: Logger;
  relay?: Relay;
  consumers?: ConsumerTuning;
  /** The metrics of a service of this process (created on first use). */
  metricsFor(service: string): ServiceMetrics;
  /** Process-wide metrics (CPU, memory, the relay), served by every service beside its own. */
  processMetrics: ProcessMetrics;
  close(): Promise<void>;
}

export interface OpenRuntimeOptions {
  config: GridConfig;
  topology: Topology;
  logger: Logger;
  /** Run a relay candidate in this process. */
  relay: boolean;
  consumers?: ConsumerTuning;
}

/**
 * Opens the event store (PostgreSQL, or the embedded store under MYCELIUM_HOME) and, when asked, a
 * relay candidate with its own NATS connection.
 */
export async function openRuntime(options: OpenRuntimeOptions): Promise<Runtime> {
  const { config, topology, logger } = options;
  if (!config.natsUrl) throw new Error('no NATS server configured: set NATS_URL');
  const natsUrl = config.natsUrl;
  const metrics = new Map<string, ServiceMetrics>();
  const metricsFor = (service: string) => {
    let found = metrics.get(service);
    if (!found) metrics.set(service, (found = new ServiceMetrics(service)));
    return found;
  };
  const processMetrics = new ProcessMetrics();
  const store = await openEventStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : embeddedStoreDir(config),
    schema: config.schema,
    logger: { warn: (message, error) => logger.warn({ err: error }, message) },
    observer: {
      ambientMetadata: () => currentMessageContext() as Record<string, unknown> | undefined,
      appended: (stream, count) => metrics.get(stream.split('/')[0] ?? '')?.eventsAppended.inc(count),
    },
  });
  let relayConnection: NatsConnection | undefined;
  let relay: Relay | undefined;
  try {
    if (options.relay) {
      relayConnection = await connectNats({ url: natsUrl, name: `relay@${hostname()}:${process.pid}`, logger, creds: config.natsCreds });
      relay = new Relay({ store, nc: relayConnection, topology, logger: logger.child({ component: 'relay' }), metrics: processMetrics });
      relay.start();
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    store,
    natsUrl,
    natsCreds: config.natsCreds,
    topology,
    logger,
    relay,
    consumers: options.consumers,
    metricsFor,
    processMetrics,
    close: async () => {
      await relay?.stop();
      if (relayConnection) await closeNats(relayConnection);
      await store.close();
    },
  };
}

export interface StartServiceOptions {
  /** HTTP port for /healthz and /metrics; 0 picks a free one. */
  port?: number;
  host?: string;
}

export interface RunningService {
  name: string;
  instanceId: string;
  /** The HTTP port actually bound. */
  port: number;
  app: INestApplication;
  stop(reason?: 'shutdown' | 'signal' | 'error', detail?: string): Promise<void>;
}

function lifecycleContracts(service: string): InstanceLifecycleContracts {
  return (GRID_SERVICES as readonly string[]).includes(service) ? lifecycleOf[service as GridService] : instanceLifecycle(service);
}

@Module({})
class ServiceHostModule {
  static register(definition: ServiceDefinition, providers: Record<symbol, unknown>): DynamicModule {
    const provided = Object.getOwnPropertySymbols(providers).map((token) => ({ provide: token, useValue: providers[token] }));
    return {
      module: ServiceHostModule,
      // The service's own module injects the store, the bus and the logger without importing us.
      global: true,
      imports: [definition.module],
      controllers: [HealthController],
      providers: provided,
      exports: provided.map((provider) => provider.provide),
    };
  }
}

/**
 * Starts one service on a runtime: its NestJS app with the Mycelium transport (commands and
 * consumers), `/healthz` and `/metrics`, and records the instance's start in its own stream.
 */
export async function startService(
  definition: ServiceDefinition,
  runtime: Runtime,
  options: StartServiceOptions = {},
): Promise<RunningService> {
  const service = definition.name;
  const logger = runtime.logger.child({ service });
  const metrics = runtime.metricsFor(service);
  const lifecycle = lifecycleContracts(service);
  const registry = new ContractRegistry([...gridContracts, lifecycle.started, lifecycle.stopped, ...(definition.contracts ?? [])]);
  const instanceId = `${service}-${uuidv7().slice(-12)}`;
  const startedAt = new Date();
  const info: ServiceInfo = { service, instanceId, version: definition.version ?? '0.1.0', startedAt, relay: runtime.relay };
  const nc = await connectNats({ url: runtime.natsUrl, name: `${service}@${hostname()}:${process.pid}`, logger, creds: runtime.natsCreds });
  let app: INestApplication | undefined;
  try {
    app = await NestFactory.create(
      ServiceHostModule.register(definition, {
        [EVENT_STORE]: runtime.store,
        [NATS_CONNECTION]: nc,
        [COMMAND_CLIENT]: new CommandClient(nc, runtime.topology),
        [CONTRACT_REGISTRY]: registry,
        [SERVICE_METRICS]: metrics,
        [PROCESS_METRICS]: runtime.processMetrics,
        [SERVICE_LOGGER]: logger,
        [SERVICE_INFO]: info,
        [TOPOLOGY]: runtime.topology,
      }),
      { logger: new NestPinoLogger(logger), abortOnError: false },
    );
    const microservice = app.connectMicroservice(
      {
        strategy: new MyceliumTransport({
          service,
          nc,
          store: runtime.store,
          registry,
          topology: runtime.topology,
          logger,
          metrics,
          consumers: runtime.consumers,
        }),
      },
      // Deferred, so the filter can still be registered; the app has already run the init hooks.
      { deferInitialization: true },
    );
    microservice.useGlobalFilters(new PassErrorsToTransport());
    (microservice as unknown as NestMicroservice).setIsInitHookCalled(true);
    await definition.configure?.(app);
    await app.startAllMicroservices();
    await app.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    await runtime.store.append(
      streamId(service, 'instance', instanceId),
      [
        {
          type: lifecycle.started.type,
          data: { instanceId, service, version: info.version, host: hostname(), pid: process.pid, startedAt: startedAt.toISOString() },
        },
      ],
      { expectedVersion: 'no-stream' },
    );
  } catch (error) {
    await app?.close().catch(() => undefined);
    await closeNats(nc);
    throw error;
  }
  const port = (app.getHttpServer().address() as AddressInfo).port;
  logger.info({ instanceId, port }, `${service} is up`);

  let stopping: Promise<void> | undefined;
  return {
    name: service,
    instanceId,
    port,
    app,
    stop: (reason = 'shutdown', detail) =>
      (stopping ??= (async () => {
        await app.close();
        await runtime.store
          .append(streamId(service, 'instance', instanceId), [
            {
              type: lifecycle.stopped.type,
              data: {
                instanceId,
                reason,
                ...(detail ? { detail } : {}),
                uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
              },
            },
          ])
          .catch((error: unknown) => logger.warn({ err: error }, 'could not record the instance stop'));
        await closeNats(nc);
        logger.info({ instanceId, reason }, `${service} stopped`);
      })()),
  };
}
