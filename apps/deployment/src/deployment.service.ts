import { defineService } from '@mycelium/messaging';
import type { DeploymentConfig } from './deployment.config.js';
import { DeploymentModule } from './deployment.module.js';

export const deploymentService = defineService({ name: 'deployment', module: DeploymentModule.forRoot() });

/** The deployment service with a configuration of the caller's (tests, benchmarks). */
export function deploymentServiceWith(config: DeploymentConfig) {
  return defineService({ name: 'deployment', module: DeploymentModule.forRoot(config) });
}
