import { Module } from '@nestjs/common';

/** Commit-reveal rounds and trust scores for the grid's critical decisions. Its handlers join this module as the service gains its domain. */
@Module({})
export class ConsensusModule {}
