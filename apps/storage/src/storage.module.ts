import { Module } from '@nestjs/common';

/** Content-addressed chunks kept on the grid's nodes. Its handlers join this module as the service gains its domain. */
@Module({})
export class StorageModule {}
