import { IsInt, IsISO8601, Min } from 'class-validator';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';

export class BalanceLowV1 {
  @IsTenant()
  tenant!: string;

  @IsCreditAmount()
  available!: string;

  /** What `periods` periods of the tenant's metered apps cost: below this the balance is low. */
  @IsCreditAmount()
  threshold!: string;

  @IsInt()
  @Min(1)
  periods!: number;

  @IsISO8601()
  at!: string;
}

export const BalanceLow = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'balance-low',
  version: 1,
  payload: BalanceLowV1,
  description: 'After a charge the spendable balance fell below a few periods of the tenant’s metered apps. Once per crossing: a top-up above the threshold arms it again.',
});
