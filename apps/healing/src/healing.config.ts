import { join } from 'node:path';
import { loadConfig } from '@mycelium/messaging';
import { loadOrCreateSecretBox, type SecretBox } from '@mycelium/identity';

export const HEALING_CONFIG = Symbol('mycelium:healing-config');

/** How the healing service behaves; every value has an environment variable (docs/adr/0018). */
export interface HealingConfig {
  /** Seals the tenants' webhook secrets. */
  secrets: SecretBox;
  /** How often the reconciler looks at every open incident and pending alert. */
  tickMs: number;
  /** The node-liveness round's commit and reveal windows. */
  roundCommitMs: number;
  roundRevealMs: number;
  /** How long after the reveal deadline an outcome is still awaited before the incident escalates. */
  roundGraceMs: number;
  /** Restarts in place of one replica within the window beyond which it is retired. */
  crashLoopCap: number;
  crashLoopWindowMs: number;
  /** Incidents about one node within the window beyond which it is quarantined. */
  flappingLimit: number;
  flappingWindowMs: number;
  /** The trust a quarantined node is set to. */
  quarantineTrust: number;
  /** Webhook delivery: attempts, the first retry's delay (doubling up to the maximum), and each attempt's timeout. */
  alertAttempts: number;
  alertBackoffMs: number;
  alertMaxBackoffMs: number;
  alertTimeoutMs: number;
}

/** A configuration value that cannot be used: the service refuses to start. */
export class HealingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HealingConfigError';
  }
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min) {
    throw new HealingConfigError(`${name} must be a whole number of at least ${min}, such as ${fallback}, not "${value}"`);
  }
  return parsed;
}

function fraction(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(value)) throw new HealingConfigError(`${name} must be a number from 0 to 1, such as ${fallback}, not "${value}"`);
  return parsed;
}

export function healingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HealingConfig {
  return {
    secrets: loadOrCreateSecretBox(env, 'MYCELIUM_HEALING_KEY', join(loadConfig(env).home, 'secrets', 'healing.key')),
    tickMs: integer(env, 'MYCELIUM_HEALING_TICK_MS', 500, 10),
    roundCommitMs: integer(env, 'MYCELIUM_HEALING_ROUND_COMMIT_MS', 500, 100),
    roundRevealMs: integer(env, 'MYCELIUM_HEALING_ROUND_REVEAL_MS', 500, 100),
    roundGraceMs: integer(env, 'MYCELIUM_HEALING_ROUND_GRACE_MS', 5000, 0),
    crashLoopCap: integer(env, 'MYCELIUM_HEALING_CRASH_LOOP_CAP', 5, 1),
    crashLoopWindowMs: integer(env, 'MYCELIUM_HEALING_CRASH_LOOP_WINDOW_MS', 600_000, 1000),
    flappingLimit: integer(env, 'MYCELIUM_HEALING_FLAPPING_LIMIT', 3, 1),
    flappingWindowMs: integer(env, 'MYCELIUM_HEALING_FLAPPING_WINDOW_MS', 600_000, 1000),
    quarantineTrust: fraction(env, 'MYCELIUM_HEALING_QUARANTINE_TRUST', 0.05),
    alertAttempts: integer(env, 'MYCELIUM_HEALING_ALERT_ATTEMPTS', 5, 1),
    alertBackoffMs: integer(env, 'MYCELIUM_HEALING_ALERT_BACKOFF_MS', 1000, 1),
    alertMaxBackoffMs: integer(env, 'MYCELIUM_HEALING_ALERT_MAX_BACKOFF_MS', 30_000, 1),
    alertTimeoutMs: integer(env, 'MYCELIUM_HEALING_ALERT_TIMEOUT_MS', 5000, 1),
  };
}

