import { Module } from '@nestjs/common';

/** Incidents: watching the grid and repairing what fails. Its handlers join this module as the service gains its domain. */
@Module({})
export class HealingModule {}
