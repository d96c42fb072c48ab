import { type DriverLogger, type SqlDriver } from './drivers/driver.js';
import { PGliteDriver } from './drivers/pglite.driver.js';
import { PostgresDriver } from './drivers/postgres.driver.js';
import { SqlEventStore } from './sql-event-store.js';
import type { AppendObserver } from './types.js';

export interface OpenEventStoreOptions {
  /** PostgreSQL connection string; when absent the embedded PGlite store is used. */
  databaseUrl?: string;
  /** Directory of the embedded store's files; absent keeps it in memory (tests). */
  dataDir?: string;
  /** Database schema holding the store's tables; default `mycelium`. */
  schema?: string;
  poolSize?: number;
  /** Longest idle wait of a subscription between reads. */
  maxIdleMs?: number;
  logger?: DriverLogger;
  observer?: AppendObserver;
}

/** Opens the event store: PostgreSQL when a URL is given, embedded PGlite otherwise. */
export async function openEventStore(options: OpenEventStoreOptions = {}): Promise<SqlEventStore> {
  const schema = options.schema ?? 'mycelium';
  const driver: SqlDriver = options.databaseUrl
    ? new PostgresDriver({
        connectionString: options.databaseUrl,
        channel: `${schema}_appended`,
        poolSize: options.poolSize,
        logger: options.logger,
      })
    : await PGliteDriver.open({ dataDir: options.dataDir });
  try {
    return await SqlEventStore.open(driver, { schema, maxIdleMs: options.maxIdleMs, observer: options.observer });
  } catch (error) {
    await driver.close().catch(() => undefined);
    throw error;
  }
}
