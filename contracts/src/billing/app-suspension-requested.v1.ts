import { IsInt, IsISO8601, IsString, Length, Matches, Min } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';

export class AppSuspensionRequestedV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID)
  appId!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;

  /** Credits owed for the unpaid periods up to now (still owed: a top-up pays them). */
  @IsCreditAmount()
  owed!: string;

  /** No period after this one is charged. */
  @IsInt()
  @Min(0)
  lastPeriod!: number;

  @IsISO8601()
  at!: string;
}

export const AppSuspensionRequested = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'app-suspension-requested',
  version: 1,
  payload: AppSuspensionRequestedV1,
  description: 'A metered app stayed unpaid past the grace period: billing stops metering it and asks the deployment service to suspend it.',
});
