import { IsString, Length } from 'class-validator';
import { defineCommand } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';

export class TopUpCreditsV1 {
  @IsTenant()
  tenant!: string;

  @IsCreditAmount({ positive: true })
  amount!: string;

  /** The payment's own id: the same reference is credited once, however often it is sent. */
  @IsString()
  @Length(1, 200)
  reference!: string;
}

export interface TopUpResult {
  tenant: string;
  /** False when this reference had been credited already: nothing changed. */
  credited: boolean;
  /** The spendable balance afterwards. */
  balance: string;
}

export const TopUpCredits = defineCommand<TopUpCreditsV1, TopUpResult>({
  service: 'billing',
  name: 'credits.top-up',
  payload: TopUpCreditsV1,
  description:
    'Adds credits to a tenant’s account, once per `reference` (a resend answers `credited: false`). Answers `{ tenant, credited, balance }`.',
});
