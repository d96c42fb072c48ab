import { IsInt, IsISO8601, Matches, Min } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsTenant } from '../tenancy.js';

export class MeterStoppedV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID)
  appId!: string;

  /** The period the stop fell in: the last one charged (it was paid at its start and is not refunded). */
  @IsInt()
  @Min(0)
  lastPeriod!: number;

  @IsISO8601()
  at!: string;
}

export const MeterStopped = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'meter-stopped',
  version: 1,
  payload: MeterStoppedV1,
  description: 'An app was removed: no period after the current one is charged.',
});
