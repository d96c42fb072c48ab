import { sporesContracts } from '@mycelium/contracts';
import { defineService } from '@mycelium/messaging';
import type { SporesConfig } from './spores.config.js';
import { SporesModule } from './spores.module.js';

/** The spores service, configured from the environment. */
export const sporesService = defineService({ name: 'spores', module: SporesModule.forRoot(), contracts: sporesContracts });

/** The spores service with explicit configuration (tests, tools). */
export function configuredSporesService(config: SporesConfig) {
  return defineService({ name: 'spores', module: SporesModule.forRoot(config), contracts: sporesContracts });
}
