import { join, resolve } from 'node:path';
import { loadNetwork, type Network, networkExists } from '@mycelium/identity';
import { DEFAULT_TIER_RULES, type TierRules } from './domain/node/tier-rules.js';

/** How the spores service behaves; every value has an environment variable (README, Configuration). */
export interface SporesConfig {
  /** How often agents heartbeat; told to them when they join. */
  heartbeatIntervalMs: number;
  /** Missed heartbeats before a node is suspected. */
  missesBeforeSuspect: number;
  /** How long a node stays suspected before it is declared down. */
  downGraceMs: number;
  /** How far a message's timestamp may be from this service's clock. */
  maxClockSkewMs: number;
  initialTrust: number;
  tierRules: TierRules;
  /** How often the leader applies the tier rules. */
  tierEvaluationMs: number;
  /** The network this grid is: verifies tokens, signs seed snapshots, issues NATS credentials. */
  network?: Network;
  /** Where the seed snapshot goes: a file path, file:// or http(s):// URL (PUT). */
  seedExport?: string;
  /** Longest time between two snapshots: agents refuse old ones, so a quiet grid still writes. */
  seedRefreshMs?: number;
  /** NATS servers agents should know about (seed snapshots, join replies). */
  natsServers: string[];
}

export const SPORES_CONFIG = Symbol('mycelium:spores-config');

const number = (value: string | undefined, fallback: number) => (value !== undefined && value !== '' && Number.isFinite(Number(value)) ? Number(value) : fallback);

export function sporesConfigFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SporesConfig {
  const home = resolve(cwd, env.MYCELIUM_HOME || '.mycelium');
  const networkDir = env.MYCELIUM_NETWORK_DIR ? resolve(cwd, env.MYCELIUM_NETWORK_DIR) : join(home, 'network');
  return {
    heartbeatIntervalMs: number(env.MYCELIUM_HEARTBEAT_MS, 1000),
    missesBeforeSuspect: number(env.MYCELIUM_SUSPECT_AFTER_MISSES, 3),
    downGraceMs: number(env.MYCELIUM_DOWN_GRACE_MS, 4000),
    maxClockSkewMs: number(env.MYCELIUM_MAX_CLOCK_SKEW_MS, 30_000),
    initialTrust: number(env.MYCELIUM_INITIAL_TRUST, 0.5),
    tierRules: {
      ...DEFAULT_TIER_RULES,
      sclerotia: { ...DEFAULT_TIER_RULES.sclerotia, minAgeMs: number(env.MYCELIUM_SCLEROTIA_MIN_AGE_MS, DEFAULT_TIER_RULES.sclerotia.minAgeMs) },
    },
    tierEvaluationMs: number(env.MYCELIUM_TIER_EVALUATION_MS, 10_000),
    network: networkExists(networkDir) ? loadNetwork(networkDir) : undefined,
    seedExport: env.MYCELIUM_SEED_EXPORT || join(home, 'spores', 'seed.json'),
    seedRefreshMs: number(env.MYCELIUM_SEED_REFRESH_MS, 3_600_000),
    natsServers: (env.MYCELIUM_ADVERTISED_NATS || env.NATS_URL || 'nats://127.0.0.1:4222').split(',').map((server) => server.trim()),
  };
}
