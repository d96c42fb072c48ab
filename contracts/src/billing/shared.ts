import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsNumber, IsPositive, IsString, Matches, Max, Min, ValidateNested } from 'class-validator';
import { NODE_ID } from '../spores/shared.js';
import { IsCreditAmount } from '../tenancy.js';

/**
 * The accounts of the double-entry ledger. Every movement debits one and credits another by the same
 * amount, so the balances (credits minus debits) of all accounts always sum to zero.
 */
export const LEDGER_ACCOUNT = /^(external:payments|platform:commission|tenant:[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?:(available|reserved)|node:[0-9a-f]{20}:earnings)$/;

export const LedgerAccounts = {
  /** Where bought credits come from: its balance is minus everything ever topped up. */
  payments: 'external:payments',
  commission: 'platform:commission',
  available: (tenant: string) => `tenant:${tenant}:available`,
  reserved: (tenant: string) => `tenant:${tenant}:reserved`,
  earnings: (nodeId: string) => `node:${nodeId}:earnings`,
} as const;

/** Refusal codes of the billing service, beside the shared ErrorCodes. */
export const BillingErrors = {
  /** The spendable balance cannot cover the amount; `details`: { required, available, currency }. */
  InsufficientCredits: 'INSUFFICIENT_CREDITS',
  /** No price source answered: nothing can be converted right now. */
  PriceUnavailable: 'PRICE_UNAVAILABLE',
  /** The sources disagree by more than the allowed slippage; `details` lists their prices. */
  PriceSlippage: 'PRICE_SLIPPAGE',
} as const;

/** One movement of credits: `amount` leaves `debit` and reaches `credit`. */
export class LedgerEntryV1 {
  @Matches(LEDGER_ACCOUNT, { message: 'debit must be a ledger account' })
  debit!: string;

  @Matches(LEDGER_ACCOUNT, { message: 'credit must be a ledger account' })
  credit!: string;

  @IsCreditAmount({ positive: true })
  amount!: string;
}

/** Validation of the `entries` of a money movement: one per account pair, zero amounts left out. */
export function LedgerEntries(): PropertyDecorator {
  return (target, property) => {
    IsArray()(target, property);
    // Empty when the amount is zero (a rate card that prices something at nothing).
    ArrayMaxSize(2000)(target, property);
    ValidateNested({ each: true })(target, property);
    Type(() => LedgerEntryV1)(target, property);
  };
}

/** What one replica of an app takes, as billing prices it. */
export class BilledResourcesV1 {
  /** Cores, fractional allowed. */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1024)
  cpu!: number;

  @IsInt()
  @Min(0)
  @Max(16 * 1024 * 1024)
  memoryMiB!: number;

  @IsInt()
  @Min(0)
  @Max(1_000_000)
  storageGiB!: number;
}

export const MAX_BILLED_REPLICAS = 1000;

/** Node ids of an app's replicas, one per replica (a node may appear more than once). */
export function ReplicaNodes(): PropertyDecorator {
  return (target, property) => {
    IsArray()(target, property);
    ArrayMinSize(1)(target, property);
    ArrayMaxSize(MAX_BILLED_REPLICAS)(target, property);
    IsString({ each: true })(target, property);
    Matches(NODE_ID, { each: true, message: 'each of nodes must be a node id (20 hex characters)' })(target, property);
  };
}

/** The credits' currency: 1 credit is `usdRate` US dollars. */
export interface CreditCurrency {
  code: string;
  name: string;
  symbol: string;
  usdRate: string;
}

/** Why credits are reserved: a deploy is charged on capture, an update only guaranteed. */
export const RESERVATION_PURPOSES = ['deploy', 'update'] as const;
export type ReservationPurpose = (typeof RESERVATION_PURPOSES)[number];
