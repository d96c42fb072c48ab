import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';

export const DEFAULT_LEDGER_LIMIT = 100;
export const MAX_LEDGER_LIMIT = 1000;

export class GetLedgerV1 {
  @IsTenant()
  tenant!: string;

  /** How many of the newest entries (default 100). */
  @IsOptional()
  @IsInt({ message: 'limit must be a whole number' })
  @Min(1)
  @Max(MAX_LEDGER_LIMIT)
  limit?: number;
}

export interface LedgerLine {
  at: string;
  /** The event that moved the credits, e.g. `credits-topped-up`. */
  type: string;
  debit: string;
  credit: string;
  amount: string;
  /** The top-up's reference, the reservation id, or `<appId>/period/<n>` for usage. */
  reference?: string;
}

export interface LedgerView {
  /** The newest entries, oldest first. */
  entries: LedgerLine[];
  /** How many entries the tenant's ledger has in all. */
  total: number;
}

export const GetLedger = defineCommand<GetLedgerV1, LedgerView>({
  service: 'billing',
  name: 'account.ledger',
  payload: GetLedgerV1,
  description: 'The newest entries of a tenant’s ledger (`limit`, default 100, at most 1000), oldest first, and how many there are. Answers `{ entries, total }`.',
});
