import { Matches } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';

export class StopMeterV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID, { message: 'appId must look like app_<letters and digits>' })
  appId!: string;
}

export interface StopMeterResult {
  appId: string;
  /** True when it had been stopped before: nothing changed. */
  alreadyStopped: boolean;
  /** The last period charged (or owed): the one the stop fell in. */
  lastPeriod: number;
}

export const StopMeter = defineCommand<StopMeterV1, StopMeterResult>({
  service: 'billing',
  name: 'meter.stop',
  payload: StopMeterV1,
  description: 'An app was removed: no period after the current one is charged (the current, prepaid one is not refunded). Idempotent; NOT_FOUND for an app billing does not meter.',
});
