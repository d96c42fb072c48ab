import { defineService } from '@mycelium/messaging';
import { ConsensusModule } from './consensus.module.js';

export const consensusService = defineService({ name: 'consensus', module: ConsensusModule });
