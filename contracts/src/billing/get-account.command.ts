import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import type { CreditCurrency } from './shared.js';

export class GetAccountV1 {
  @IsTenant()
  tenant!: string;
}

export interface AccountView {
  tenant: string;
  /** Spendable credits. */
  balance: string;
  /** Credits held for deployments in progress. */
  reserved: string;
  currency: CreditCurrency;
}

export const GetAccount = defineCommand<GetAccountV1, AccountView>({
  service: 'billing',
  name: 'account.get',
  payload: GetAccountV1,
  description: 'A tenant’s balance, reserved credits and currency; an unknown tenant has a zero balance. Answers `{ tenant, balance, reserved, currency }`.',
});
