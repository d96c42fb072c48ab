import { IsISO8601, IsString, Length } from 'class-validator';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { LedgerEntries, type LedgerEntryV1 } from './shared.js';

export class CreditsToppedUpV1 {
  @IsTenant()
  tenant!: string;

  @IsCreditAmount({ positive: true })
  amount!: string;

  @IsString()
  @Length(1, 200)
  reference!: string;

  /** external:payments → tenant:<t>:available */
  @LedgerEntries()
  entries!: LedgerEntryV1[];

  @IsISO8601()
  at!: string;
}

export const CreditsToppedUp = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'credits-topped-up',
  version: 1,
  payload: CreditsToppedUpV1,
  description: 'Credits were bought: they moved from external payments to the tenant’s spendable balance. One per payment reference.',
});
