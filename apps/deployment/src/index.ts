export { DeploymentModule } from './deployment.module.js';
export { deploymentService } from './deployment.service.js';
