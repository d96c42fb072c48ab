import { Type } from 'class-transformer';
import { IsInt, Matches, Max, Min, ValidateNested } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import { BilledResourcesV1, MAX_BILLED_REPLICAS, ReplicaNodes } from './shared.js';

export class UpdateMeterV1 {
  @IsTenant()
  tenant!: string;

  @Matches(APP_ID, { message: 'appId must look like app_<letters and digits>' })
  appId!: string;

  @IsInt()
  @Min(1)
  @Max(MAX_BILLED_REPLICAS)
  replicas!: number;

  @ValidateNested()
  @Type(() => BilledResourcesV1)
  resources!: BilledResourcesV1;

  @ReplicaNodes()
  nodes!: string[];
}

export interface MeterResult {
  appId: string;
  /** False when the meter already ran at this shape: nothing changed. */
  changed: boolean;
  /** The first period charged at the new rate. */
  fromPeriod: number;
  /** What a period costs from then on, commission included. */
  periodTotal: string;
}

export const UpdateMeter = defineCommand<UpdateMeterV1, MeterResult>({
  service: 'billing',
  name: 'meter.update',
  payload: UpdateMeterV1,
  description: 'An app was scaled or moved: its periods are charged at the new shape from the next one. Idempotent; NOT_FOUND for an app billing does not meter.',
});
