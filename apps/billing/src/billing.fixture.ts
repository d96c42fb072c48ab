import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandDefinition, CommandReply } from '@mycelium/contracts';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { createLogger } from '@mycelium/telemetry';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore } from '@mycelium/testing';
import { accountStream } from './accounts/accounts.js';
import { type BillingConfig, DEFAULT_CURRENCY } from './billing.config.js';
import { configuredBillingService } from './billing.service.js';

/** Short periods, so metering shows in a test; one core-hour costs 3.6 credits: 0.0003 a core per 300 ms. */
export const TEST_PERIOD_MS = 300;

export function testBillingConfig(overrides: Partial<BillingConfig> = {}): BillingConfig {
  return {
    periodMs: TEST_PERIOD_MS,
    graceMs: 60_000,
    lowBalancePeriods: 3,
    rates: { cpuHour: '3.6', memoryGiBHour: '0', storageGiBHour: '0', commissionPercent: '10' },
    currency: DEFAULT_CURRENCY,
    priceSources: ['fixed:0.01'],
    maxSlippagePercent: '5',
    priceTimeoutMs: 500,
    ...overrides,
  };
}

/** A billing service on the real NATS and PostgreSQL, in a schema and namespace of its own. */
export interface BillingFixture {
  db: TestStore;
  bus: TestBus;
  runtime: Runtime;
  client: CommandClient;
  readonly config: BillingConfig;
  /** The instances started and not stopped, oldest first. */
  instances: RunningService[];
  /** Starts another instance of the service (or the first). */
  start(): Promise<RunningService>;
  stop(instance: RunningService): Promise<void>;
  /** Sends a command and returns its result, or throws its error (with `code`, `field`, `details`). */
  send<Result>(command: CommandDefinition<object, Result>, payload: object): Promise<Result>;
  /** The tenant's account stream, as type names (`usage-charged`) and payloads. */
  events(tenant: string): Promise<{ name: string; data: Record<string, unknown> }[]>;
  dispose(): Promise<void>;
}

export class CommandFailed extends Error {
  readonly code: string;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(error: { code: string; message: string; field?: string; details?: Record<string, unknown> }) {
    super(error.message);
    this.name = 'CommandFailed';
    this.code = error.code;
    this.field = error.field;
    this.details = error.details;
  }
}

export function resultOf<Result>(reply: CommandReply<Result>): Result {
  if (!reply.ok) throw new CommandFailed(reply.error);
  return reply.result;
}

export async function openBillingFixture(overrides: Partial<BillingConfig> = {}): Promise<BillingFixture> {
  const db = await openPostgresTestStore();
  const bus = await openTestBus();
  const dir = mkdtempSync(join(tmpdir(), 'billing-'));
  const gridConfig = { ...loadConfig({}, dir), natsUrl: bus.natsUrl, databaseUrl: db.databaseUrl, schema: db.schema, namespace: bus.topology.namespace };
  const runtime = await openRuntime({ config: gridConfig, topology: bus.topology, logger: createLogger({ name: 'billing-test', level: 'silent' }), relay: false });
  const client = new CommandClient(bus.nc, bus.topology);
  const config = testBillingConfig(overrides);
  const instances: RunningService[] = [];
  return {
    db,
    bus,
    runtime,
    client,
    config,
    instances,
    async start() {
      const started = await startService(configuredBillingService(config), runtime, { port: 0 });
      instances.push(started);
      return started;
    },
    async stop(instance) {
      instances.splice(instances.indexOf(instance), 1);
      await instance.stop();
    },
    async send(command, payload) {
      return resultOf(await client.send(command, payload));
    },
    async events(tenant) {
      return (await db.store.readStream(accountStream(tenant))).map((event) => ({
        name: event.type.replace(/^mycelium\.billing\./, '').replace(/\.v\d+$/, ''),
        data: event.data as Record<string, unknown>,
      }));
    },
    async dispose() {
      for (const instance of instances.splice(0)) await instance.stop();
      await runtime.close();
      await bus.dispose();
      await db.dispose();
    },
  };
}
