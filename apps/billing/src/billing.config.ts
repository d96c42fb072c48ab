import type { CreditCurrency } from '@mycelium/contracts';
import { DEFAULT_RATE_CARD, type RateCard } from './domain/pricing.js';

/** How the billing service behaves; every value has an environment variable (README, Configuration). */
export interface BillingConfig {
  /** Length of a billing period: an app is charged at the start of each. */
  periodMs: number;
  /** How long a period may stay unpaid before the app is suspended. */
  graceMs: number;
  /** Below this many periods of a tenant's metered cost, its balance is low. */
  lowBalancePeriods: number;
  rates: RateCard;
  currency: CreditCurrency;
  /** Where the TFT price comes from: `fixed:<price>`, or an http(s) URL with the JSON path after `#`. */
  priceSources: string[];
  /** Refuse a conversion when the sources disagree by more than this, in percent. */
  maxSlippagePercent: string;
  /** How long a price source may take to answer. */
  priceTimeoutMs: number;
}

export const BILLING_CONFIG = Symbol('mycelium:billing-config');

export const DEFAULT_CURRENCY: CreditCurrency = { code: 'TFC', name: 'Mycelium Credits', symbol: 'TFC', usdRate: '1' };

/** The local grid has no internet: its price is fixed. */
export const DEFAULT_PRICE_SOURCES = ['fixed:0.01'];

/** A configuration value that cannot be used; the service refuses to start rather than bill wrongly. */
export class BillingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BillingConfigError';
  }
}

const DECIMAL = /^\d{1,15}(\.\d{1,8})?$/;

function decimal(env: NodeJS.ProcessEnv, name: string, fallback: string, { positive = false } = {}): string {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  if (!DECIMAL.test(value) || (positive && !/[1-9]/.test(value))) {
    throw new BillingConfigError(`${name} must be a ${positive ? 'positive ' : ''}decimal such as ${fallback} (at most 8 decimals), not "${value}"`);
  }
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min) {
    throw new BillingConfigError(`${name} must be a whole number of at least ${min}, such as ${fallback}, not "${value}"`);
  }
  return parsed;
}

function text(env: NodeJS.ProcessEnv, name: string, fallback: string, max: number): string {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  if (value.length > max) throw new BillingConfigError(`${name} must be at most ${max} characters`);
  return value;
}

export type PriceSource = { kind: 'fixed'; name: string; price: string } | { kind: 'http'; name: string; url: string; path: string[] };

/** `fixed:0.01`, or `https://host/path?query#data.price` (the JSON path defaults to `price`). */
export function parsePriceSource(spec: string): PriceSource {
  const trimmed = spec.trim();
  if (trimmed.startsWith('fixed:')) {
    const price = trimmed.slice('fixed:'.length);
    if (!DECIMAL.test(price) || !/[1-9]/.test(price)) throw new BillingConfigError(`price source ${trimmed}: a fixed price must be a positive decimal, e.g. fixed:0.01`);
    return { kind: 'fixed', name: trimmed, price };
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new BillingConfigError(`price source "${trimmed}" is neither fixed:<price> nor an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BillingConfigError(`price source ${trimmed} must be an http(s) URL or fixed:<price>`);
  const path = (decodeURIComponent(url.hash.slice(1)) || 'price').split('.');
  if (path.some((part) => part === '')) throw new BillingConfigError(`price source ${trimmed}: the JSON path after # must be names separated by dots, e.g. #data.price`);
  url.hash = '';
  // The query and credentials may hold an API key: the recorded name leaves them out.
  return { kind: 'http', name: `${url.origin}${url.pathname}#${path.join('.')}`, url: url.toString(), path };
}

export function billingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BillingConfig {
  const priceSources = (env.MYCELIUM_PRICE_SOURCES?.trim() || DEFAULT_PRICE_SOURCES.join(','))
    .split(',')
    .map((source) => source.trim())
    .filter((source) => source !== '');
  for (const source of priceSources) parsePriceSource(source);
  return {
    periodMs: integer(env, 'MYCELIUM_BILLING_PERIOD_MS', 60_000, 1),
    graceMs: integer(env, 'MYCELIUM_BILLING_GRACE_MS', 300_000, 0),
    lowBalancePeriods: integer(env, 'MYCELIUM_BILLING_LOW_BALANCE_PERIODS', 3, 1),
    rates: {
      cpuHour: decimal(env, 'MYCELIUM_RATE_CPU_HOUR', DEFAULT_RATE_CARD.cpuHour),
      memoryGiBHour: decimal(env, 'MYCELIUM_RATE_MEMORY_GIB_HOUR', DEFAULT_RATE_CARD.memoryGiBHour),
      storageGiBHour: decimal(env, 'MYCELIUM_RATE_STORAGE_GIB_HOUR', DEFAULT_RATE_CARD.storageGiBHour),
      commissionPercent: decimal(env, 'MYCELIUM_COMMISSION_PERCENT', DEFAULT_RATE_CARD.commissionPercent),
    },
    currency: {
      code: text(env, 'MYCELIUM_CREDIT_CODE', DEFAULT_CURRENCY.code, 20),
      name: text(env, 'MYCELIUM_CREDIT_NAME', DEFAULT_CURRENCY.name, 100),
      symbol: text(env, 'MYCELIUM_CREDIT_SYMBOL', DEFAULT_CURRENCY.symbol, 10),
      usdRate: decimal(env, 'MYCELIUM_CREDIT_USD_RATE', DEFAULT_CURRENCY.usdRate, { positive: true }),
    },
    priceSources,
    maxSlippagePercent: decimal(env, 'MYCELIUM_PRICE_MAX_SLIPPAGE_PERCENT', '5'),
    priceTimeoutMs: integer(env, 'MYCELIUM_PRICE_TIMEOUT_MS', 2000, 1),
  };
}
