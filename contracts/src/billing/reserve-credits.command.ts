import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsUUID, Matches, Max, Min, ValidateNested } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import { BilledResourcesV1, MAX_BILLED_REPLICAS, RESERVATION_PURPOSES, type ReservationPurpose } from './shared.js';

export class ReserveCreditsV1 {
  @IsTenant()
  tenant!: string;

  /** Chosen by the caller, so a resend after a crash finds the same reservation. */
  @IsUUID()
  reservationId!: string;

  @Matches(APP_ID, { message: 'appId must look like app_<letters and digits>' })
  appId!: string;

  @IsInt()
  @Min(1)
  @Max(MAX_BILLED_REPLICAS)
  replicas!: number;

  /** What one replica takes. */
  @ValidateNested()
  @Type(() => BilledResourcesV1)
  resources!: BilledResourcesV1;

  /** `deploy` (default): charged on capture; `update`: only guaranteed, returned on capture. */
  @IsOptional()
  @IsIn(RESERVATION_PURPOSES)
  purpose?: ReservationPurpose;
}

export interface ReservationQuote {
  reservationId: string;
  /** The node owners' share of the first period. */
  cost: string;
  /** The platform's commission on it. */
  commission: string;
  /** cost + commission: what is held. */
  total: string;
  /** The credits' currency code. */
  currency: string;
  /** The length of a billing period. */
  periodSeconds: number;
}

export const ReserveCredits = defineCommand<ReserveCreditsV1, ReservationQuote>({
  service: 'billing',
  name: 'credits.reserve',
  payload: ReserveCreditsV1,
  description:
    'Holds the first period’s cost plus commission for an app: cost = replicas × (cpu × cpuHour + memoryMiB/1024 × memoryGiBHour + storageGiB × storageGiBHour) × periodSeconds/3600, commission = cost × commissionPercent/100, each rounded to 8 decimals half-up. ' +
    'Refused with INSUFFICIENT_CREDITS (details { required, available, currency }) when the spendable balance is short; the same reservationId answers the same quote. Answers `{ reservationId, cost, commission, total, currency, periodSeconds }`.',
});
