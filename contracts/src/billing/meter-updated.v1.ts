import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsUUID, Matches, Max, Min, ValidateNested } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { BilledResourcesV1, MAX_BILLED_REPLICAS, ReplicaNodes } from './shared.js';

export class MeterUpdatedV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID)
  appId!: string;

  /** The update's reservation, when the change came from an update's capture. */
  @IsOptional()
  @IsUUID()
  reservationId?: string;

  @IsInt()
  @Min(1)
  @Max(MAX_BILLED_REPLICAS)
  replicas!: number;

  @ValidateNested()
  @Type(() => BilledResourcesV1)
  resources!: BilledResourcesV1;

  @ReplicaNodes()
  nodes!: string[];

  @IsCreditAmount()
  cost!: string;

  @IsCreditAmount()
  commission!: string;

  /** The first period charged at this rate: the one after the current. */
  @IsInt()
  @Min(1)
  fromPeriod!: number;

  @IsISO8601()
  at!: string;
}

export const MeterUpdated = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'meter-updated',
  version: 1,
  payload: MeterUpdatedV1,
  description: 'A metered app changed shape (scaled, moved, updated): its periods are charged at the new rate from `fromPeriod`.',
});
