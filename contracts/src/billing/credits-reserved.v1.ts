import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsPositive, IsString, IsUUID, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { BilledResourcesV1, LedgerEntries, type LedgerEntryV1, MAX_BILLED_REPLICAS, RESERVATION_PURPOSES, type ReservationPurpose } from './shared.js';

export class CreditsReservedV1 {
  @IsTenant()
  tenant!: string;

  @IsUUID()
  reservationId!: string;

  @Matches(APP_ID)
  appId!: string;

  @IsInt()
  @Min(1)
  @Max(MAX_BILLED_REPLICAS)
  replicas!: number;

  @ValidateNested()
  @Type(() => BilledResourcesV1)
  resources!: BilledResourcesV1;

  @IsIn(RESERVATION_PURPOSES)
  purpose!: ReservationPurpose;

  /** The node owners' share of one period at the rate card of the time. */
  @IsCreditAmount()
  cost!: string;

  @IsCreditAmount()
  commission!: string;

  @IsCreditAmount()
  total!: string;

  @IsString()
  @Length(1, 20)
  currency!: string;

  /** The billing period the quote is for. */
  @IsPositive()
  periodSeconds!: number;

  /** tenant:<t>:available → tenant:<t>:reserved (none for a free app). */
  @LedgerEntries()
  entries!: LedgerEntryV1[];

  @IsISO8601()
  at!: string;
}

export const CreditsReserved = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'credits-reserved',
  version: 1,
  payload: CreditsReservedV1,
  description: 'The first period of an app (cost and commission) was set aside from the tenant’s spendable balance while it deploys.',
});
