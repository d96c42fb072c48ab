import { Module } from '@nestjs/common';

/** Applications, their replicas and the deploy saga. Its handlers join this module as the service gains its domain. */
@Module({})
export class DeploymentModule {}
