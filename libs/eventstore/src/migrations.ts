import type { SqlDriver } from './drivers/driver.js';

interface Migration {
  version: number;
  name: string;
  statements: (schema: string) => string[];
}

/**
 * Positions are `(transaction id << POSITION_SHIFT) + n`: a transaction's events sort by the id of
 * the transaction that wrote them. A reader only reads below the oldest transaction still running
 * (`pg_snapshot_xmin`), so an event that commits late can never land behind a position a reader has
 * already passed. See docs/adr/0003-commit-order-safe-positions.md.
 */
export const POSITION_SHIFT = 16n;
export const MAX_EVENTS_PER_TRANSACTION = 1 << Number(POSITION_SHIFT);

const migrations: Migration[] = [
  {
    version: 1,
    name: 'event log, checkpoints, inbox',
    statements: (s) => [
      `CREATE TABLE ${s}.events (
         position bigint PRIMARY KEY,
         stream_id text NOT NULL,
         stream_version integer NOT NULL,
         event_id uuid NOT NULL,
         type text NOT NULL,
         data jsonb NOT NULL,
         metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
         recorded_at timestamptz NOT NULL DEFAULT now(),
         -- optimistic concurrency: two writers cannot both add version n of a stream
         CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
       )`,
      // Time-range reads; a BRIN index costs almost nothing on insert for an append-only table.
      `CREATE INDEX events_recorded_at ON ${s}.events USING brin (recorded_at)`,
      `CREATE FUNCTION ${s}.refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'events are append-only: % is not allowed on the event log', TG_OP;
       END $$`,
      `CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${s}.events
         FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_history_rewrite()`,
      `CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ${s}.events
         FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_history_rewrite()`,
      `CREATE TABLE ${s}.checkpoints (
         name text PRIMARY KEY,
         position bigint NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE ${s}.inbox (
         consumer text NOT NULL,
         event_id uuid NOT NULL,
         handled_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (consumer, event_id)
       )`,
    ],
  },
  {
    version: 2,
    name: 'projections: generations and their rows, every version kept',
    statements: (s) => [
      `CREATE TABLE ${s}.projection_generations (
         projection text NOT NULL,
         generation integer NOT NULL,
         code_version text NOT NULL,
         status text NOT NULL CHECK (status IN ('building', 'active', 'retired')),
         position bigint NOT NULL DEFAULT 0,
         started_at timestamptz NOT NULL DEFAULT now(),
         activated_at timestamptz,
         PRIMARY KEY (projection, generation)
       )`,
      // A row's value at each position it changed (null: removed): the projection as it stood at any moment.
      `CREATE TABLE ${s}.projection_rows (
         projection text NOT NULL,
         generation integer NOT NULL,
         key text NOT NULL,
         position bigint NOT NULL,
         value jsonb,
         PRIMARY KEY (projection, generation, key, position)
       )`,
    ],
  },
];

export const LATEST_SCHEMA_VERSION = migrations.at(-1)!.version;

/** Brings the schema to the latest version; safe when several processes start at once. */
export async function migrate(driver: SqlDriver, schema: string): Promise<void> {
  await driver.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`mycelium:migrate:${schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const applied = await tx.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    const done = new Set(applied.rows.map((row) => Number(row.version)));
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      for (const statement of migration.statements(schema)) await tx.query(statement);
      await tx.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
  });
}
