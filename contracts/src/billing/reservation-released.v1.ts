import { IsBoolean, IsISO8601, IsOptional, IsString, IsUUID, Length } from 'class-validator';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { LedgerEntries, type LedgerEntryV1 } from './shared.js';

export class ReservationReleasedV1 {
  @IsTenant()
  tenant!: string;

  @IsUUID()
  reservationId!: string;

  @IsCreditAmount()
  amount!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;

  /** True when an update's capture returned its guarantee (the update is charged by the meter). */
  @IsOptional()
  @IsBoolean()
  byCapture?: boolean;

  /** tenant:<t>:reserved → tenant:<t>:available */
  @LedgerEntries()
  entries!: LedgerEntryV1[];

  @IsISO8601()
  at!: string;
}

export const ReservationReleased = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'reservation-released',
  version: 1,
  payload: ReservationReleasedV1,
  description: 'Reserved credits went back to the tenant’s spendable balance: a failed deploy’s refund, or an update’s guarantee once it succeeded.',
});
