import { type DynamicModule, Module } from '@nestjs/common';
import { RoundCloser } from './closer/round-closer.js';
import { CONSENSUS_CONFIG, type ConsensusConfig, consensusConfigFromEnv } from './consensus.config.js';
import { ConsensusDirectory } from './directory/consensus-directory.js';
import { RoundsHandlers } from './handlers/rounds.handlers.js';
import { StateHandlers } from './handlers/state.handlers.js';
import { AliveNodes } from './protocol/alive-nodes.js';
import { Invitations } from './protocol/invitations.js';
import { VoteListener } from './protocol/vote-listener.js';

/** Commit-reveal rounds and trust scores for the grid's critical decisions. */
@Module({})
export class ConsensusModule {
  /** With `config`, or read from the environment when the service starts. */
  static forRoot(config?: ConsensusConfig): DynamicModule {
    return {
      module: ConsensusModule,
      controllers: [RoundsHandlers, StateHandlers],
      providers: [
        config ? { provide: CONSENSUS_CONFIG, useValue: config } : { provide: CONSENSUS_CONFIG, useFactory: () => consensusConfigFromEnv() },
        ConsensusDirectory,
        Invitations,
        AliveNodes,
        VoteListener,
        RoundCloser,
      ],
      exports: [ConsensusDirectory, RoundCloser],
    };
  }
}
