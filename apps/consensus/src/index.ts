export { ConsensusModule } from './consensus.module.js';
export { configuredConsensusService, consensusService } from './consensus.service.js';
export { type ConsensusConfig, consensusConfigFromEnv, defaultConsensusConfig } from './consensus.config.js';
