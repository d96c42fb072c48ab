export { ConsensusModule } from './consensus.module.js';
export { consensusService } from './consensus.service.js';
