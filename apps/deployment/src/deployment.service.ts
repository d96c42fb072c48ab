import { defineService } from '@mycelium/messaging';
import { DeploymentModule } from './deployment.module.js';

export const deploymentService = defineService({ name: 'deployment', module: DeploymentModule });
