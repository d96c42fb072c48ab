import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Everything a Mycelium process reads from its environment (documented in the README). */
export interface GridConfig {
  /** NATS server; required by services run alone, found or started by `myc up`. */
  natsUrl: string | undefined;
  /** NATS credentials (a .creds file's content) for servers in operator mode; from NATS_CREDS (a path). */
  natsCreds?: string;
  /** PostgreSQL; when unset the embedded PGlite store under `home` is used. */
  databaseUrl: string | undefined;
  /** State directory of a local grid (embedded store, NATS data, credentials). */
  home: string;
  /** Database schema of the event store. */
  schema: string;
  /** Prefix of every subject and stream name; empty in production. */
  namespace: string;
  /** Whether this process runs a relay candidate. */
  relay: boolean;
  /** Interface the HTTP servers bind to. */
  host: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): GridConfig {
  const home = resolve(cwd, env.MYCELIUM_HOME || '.mycelium');
  return {
    natsUrl: env.NATS_URL || undefined,
    ...(env.NATS_CREDS ? { natsCreds: readFileSync(resolve(cwd, env.NATS_CREDS), 'utf8') } : {}),
    databaseUrl: env.DATABASE_URL || undefined,
    home,
    schema: env.MYCELIUM_DB_SCHEMA || 'mycelium',
    namespace: env.MYCELIUM_NAMESPACE || '',
    relay: (env.MYCELIUM_RELAY ?? 'on') !== 'off',
    host: env.HOST || '127.0.0.1',
  };
}

/** Where the embedded store keeps its files. */
export function embeddedStoreDir(config: GridConfig): string {
  return join(config.home, 'data', 'pglite');
}

/** Default HTTP ports of the services when several run on one machine. */
export const DEFAULT_PORTS: Record<string, number> = {
  gateway: 8080,
  spores: 8101,
  consensus: 8102,
  storage: 8103,
  deployment: 8104,
  billing: 8105,
  healing: 8106,
};
