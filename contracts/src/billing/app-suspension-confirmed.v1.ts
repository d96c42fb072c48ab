import { IsBoolean, IsISO8601, Matches } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsTenant } from '../tenancy.js';

export class AppSuspensionConfirmedV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID)
  appId!: string;

  /** False when the deployment service did not know the app (nothing to suspend). */
  @IsBoolean()
  suspended!: boolean;

  @IsISO8601()
  at!: string;
}

export const AppSuspensionConfirmed = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'app-suspension-confirmed',
  version: 1,
  payload: AppSuspensionConfirmedV1,
  description: 'The deployment service answered billing’s request to suspend an app, so billing stops asking.',
});
