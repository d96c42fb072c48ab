import { IsString, Length, Matches } from 'class-validator';
import { defineCommand } from '../registry.js';

export const APP_ID = /^app_[0-9a-z]{12,40}$/;

/** Billing asks for this when a tenant's balance stayed exhausted past the grace period. */
export class SuspendAppV1 {
  @Matches(APP_ID, { message: 'appId must look like app_<letters and digits>' })
  appId!: string;

  @IsString()
  @Length(1, 100)
  tenant!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;
}

export const SuspendApp = defineCommand<SuspendAppV1, { suspended: boolean }>({
  service: 'deployment',
  name: 'app.suspend',
  payload: SuspendAppV1,
  description: 'Stops an app’s replicas and keeps it suspended (billing: balance exhausted past the grace period). Idempotent.',
});
