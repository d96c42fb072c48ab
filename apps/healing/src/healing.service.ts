import { healingContracts } from '@mycelium/contracts';
import { defineService } from '@mycelium/messaging';
import type { HealingConfig } from './healing.config.js';
import { HealingModule } from './healing.module.js';

/** The healing service, configured from the environment. */
export const healingService = defineService({ name: 'healing', module: HealingModule.forRoot(), contracts: healingContracts });

/** The healing service with explicit configuration (tests, tools). */
export function configuredHealingService(config: HealingConfig) {
  return defineService({ name: 'healing', module: HealingModule.forRoot(config), contracts: healingContracts });
}
