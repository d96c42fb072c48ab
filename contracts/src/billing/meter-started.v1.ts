import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsUUID, Matches, Max, Min, ValidateNested } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { BilledResourcesV1, MAX_BILLED_REPLICAS, ReplicaNodes } from './shared.js';

export class MeterStartedV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID)
  appId!: string;

  /** The captured reservation that paid period 0. */
  @IsUUID()
  reservationId!: string;

  @IsInt()
  @Min(1)
  @Max(MAX_BILLED_REPLICAS)
  replicas!: number;

  @ValidateNested()
  @Type(() => BilledResourcesV1)
  resources!: BilledResourcesV1;

  @ReplicaNodes()
  nodes!: string[];

  /** Length of one period; period n starts at `at` + n × periodMs. */
  @IsInt()
  @Min(1)
  periodMs!: number;

  /** The node owners' share of one period. */
  @IsCreditAmount()
  cost!: string;

  @IsCreditAmount()
  commission!: string;

  @IsISO8601()
  at!: string;
}

export const MeterStarted = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'meter-started',
  version: 1,
  payload: MeterStartedV1,
  description: 'An app is metered from now: period 0 is paid by its captured reservation; each next period is charged at its start.',
});
