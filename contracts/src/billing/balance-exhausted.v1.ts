import { IsInt, IsISO8601, Matches, Min } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';

export class BalanceExhaustedV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID)
  appId!: string;

  /** The first period that could not be paid. */
  @IsInt()
  @Min(1)
  period!: number;

  @IsCreditAmount()
  required!: string;

  @IsCreditAmount()
  available!: string;

  @IsISO8601()
  at!: string;
}

export const BalanceExhausted = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'balance-exhausted',
  version: 1,
  payload: BalanceExhaustedV1,
  description: 'A metered app’s period could not be paid. The grace period starts: a top-up pays what is owed, otherwise the app is suspended.',
});
