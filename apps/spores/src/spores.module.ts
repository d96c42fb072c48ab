import { Module } from '@nestjs/common';

/** Discovery and node identity: the registry of the grid's nodes. Its handlers join this module as the service gains its domain. */
@Module({})
export class SporesModule {}
