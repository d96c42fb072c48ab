export { DeploymentModule } from './deployment.module.js';
export { deploymentService, deploymentServiceWith } from './deployment.service.js';
export { DEPLOYMENT_CONFIG, type DeploymentConfig, deploymentConfigFromEnv } from './deployment.config.js';
export { SecretBox } from '@mycelium/identity';
export {
  EXCLUSION_REASONS,
  type ExclusionReason,
  type InvalidPlacementRequest,
  type NoSuitableNode,
  type PendingResources,
  type Placement,
  type PlacementConstraints,
  placeReplicas,
  type PlacementRequest,
  type PlacementResult,
  type ReplicaResources,
  UPTIME_FLOOR,
} from './domain/scheduler.js';
