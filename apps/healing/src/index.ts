export { HealingModule } from './healing.module.js';
export { configuredHealingService, healingService } from './healing.service.js';
export { type HealingConfig, healingConfigFromEnv } from './healing.config.js';
export { SecretBox } from '@mycelium/identity';
