import { randomBytes } from 'node:crypto';
import { openEventStore, type SqlEventStore } from '@mycelium/eventstore';
import pg from 'pg';
import { testDatabaseUrl } from './infrastructure.js';

/** A short random name, unique per test, for schemas, NATS namespaces and durable names. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export interface TestStore {
  store: SqlEventStore;
  schema: string;
  databaseUrl: string;
  /** Closes the store and drops its schema. */
  dispose(): Promise<void>;
}

/** An event store on the real PostgreSQL, in a schema of its own that is dropped afterwards. */
export async function openPostgresTestStore(options: { schema?: string; maxIdleMs?: number } = {}): Promise<TestStore> {
  const schema = options.schema ?? uniqueName('es_');
  const databaseUrl = testDatabaseUrl();
  const store = await openEventStore({ databaseUrl, schema, maxIdleMs: options.maxIdleMs });
  return {
    store,
    schema,
    databaseUrl,
    dispose: async () => {
      await store.close();
      await dropSchema(databaseUrl, schema);
    },
  };
}

/** An embedded PGlite event store in memory. */
export async function openPGliteTestStore(options: { maxIdleMs?: number } = {}): Promise<TestStore> {
  const store = await openEventStore({ maxIdleMs: options.maxIdleMs });
  return { store, schema: store.schema, databaseUrl: '', dispose: () => store.close() };
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
