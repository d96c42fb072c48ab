import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig } from '@mycelium/messaging';
import { SecretBox } from '@mycelium/identity';

export const DEPLOYMENT_CONFIG = Symbol('DEPLOYMENT_CONFIG');

export interface DeploymentConfig {
  secrets: SecretBox;
  /** How often the saga looks at every app even when nothing happened (ms). */
  tickMs: number;
  /** How often a start or stop is sent again to a node that has not acted on it (ms). */
  resendMs: number;
  /** How long one list of the alive nodes serves the placements made meanwhile (ms). */
  aliveNodesMaxAgeMs: number;
}

/**
 * MYCELIUM_SECRETS_KEY (base64 of 32 bytes) seals secret environment values; every deployment
 * instance of a grid needs the same one. Without it, a key is created once under MYCELIUM_HOME.
 */
export function deploymentConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DeploymentConfig {
  return {
    secrets: new SecretBox(secretsKey(env), 'MYCELIUM_SECRETS_KEY'),
    tickMs: Number(env.MYCELIUM_SAGA_TICK_MS || 500),
    resendMs: Number(env.MYCELIUM_SAGA_RESEND_MS || 3000),
    aliveNodesMaxAgeMs: Number(env.MYCELIUM_SAGA_NODES_MAX_AGE_MS || 500),
  };
}

function secretsKey(env: NodeJS.ProcessEnv): Buffer {
  if (env.MYCELIUM_SECRETS_KEY) return Buffer.from(env.MYCELIUM_SECRETS_KEY, 'base64');
  const file = join(loadConfig(env).home, 'secrets', 'deployment.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = SecretBox.generateKey();
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
