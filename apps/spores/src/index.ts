export { SporesModule } from './spores.module.js';
export { configuredSporesService, sporesService } from './spores.service.js';
export { type SporesConfig, sporesConfigFromEnv } from './spores.config.js';
export { DEFAULT_TIER_RULES, type TierRules } from './domain/node/tier-rules.js';
export { NodeRegistry } from './registry/node-registry.js';
export { SeedExporter } from './seed/seed-exporter.js';
