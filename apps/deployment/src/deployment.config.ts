import { join } from 'node:path';
import { loadConfig } from '@mycelium/messaging';
import { loadOrCreateSecretBox, type SecretBox } from '@mycelium/identity';

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
    secrets: loadOrCreateSecretBox(env, 'MYCELIUM_SECRETS_KEY', join(loadConfig(env).home, 'secrets', 'deployment.key')),
    tickMs: Number(env.MYCELIUM_SAGA_TICK_MS || 500),
    resendMs: Number(env.MYCELIUM_SAGA_RESEND_MS || 3000),
    aliveNodesMaxAgeMs: Number(env.MYCELIUM_SAGA_NODES_MAX_AGE_MS || 500),
  };
}

