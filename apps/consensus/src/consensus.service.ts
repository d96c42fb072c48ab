import { consensusContracts } from '@mycelium/contracts';
import { defineService } from '@mycelium/messaging';
import type { ConsensusConfig } from './consensus.config.js';
import { ConsensusModule } from './consensus.module.js';

/** The consensus service, configured from the environment. */
export const consensusService = defineService({ name: 'consensus', module: ConsensusModule.forRoot(), contracts: consensusContracts });

/** The consensus service with explicit configuration (tests, tools). */
export function configuredConsensusService(config: ConsensusConfig) {
  return defineService({ name: 'consensus', module: ConsensusModule.forRoot(config), contracts: consensusContracts });
}
