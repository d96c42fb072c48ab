import { IsInt, IsISO8601, Matches, Min } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { LedgerEntries, type LedgerEntryV1 } from './shared.js';

export class UsageChargedV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID)
  appId!: string;

  /** Which period of the app's meter: period 0 began when the meter started, each is one billing period long. */
  @IsInt()
  @Min(1)
  period!: number;

  @IsISO8601()
  periodStart!: string;

  @IsCreditAmount()
  cost!: string;

  @IsCreditAmount()
  commission!: string;

  @IsCreditAmount()
  total!: string;

  /** Periods of this app still owed after this charge; 0 when it is paid up. */
  @IsInt()
  @Min(0)
  arrears!: number;

  /** tenant:<t>:available → platform:commission and → node:<id>:earnings. */
  @LedgerEntries()
  entries!: LedgerEntryV1[];

  @IsISO8601()
  at!: string;
}

export const UsageCharged = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'usage-charged',
  version: 1,
  payload: UsageChargedV1,
  description: 'A metered app’s period was paid at its start: the commission to the platform, the cost to the nodes running it. One per app and period.',
});
