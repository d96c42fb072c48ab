import { describe, expect, it } from 'vitest';
import { billingConfigFromEnv, parsePriceSource } from './billing.config.js';

describe('billing configuration', () => {
  it('defaults to a minute’s period, five minutes’ grace, the seeds’ currency and a fixed local price', () => {
    expect(billingConfigFromEnv({})).toEqual({
      periodMs: 60_000,
      graceMs: 300_000,
      lowBalancePeriods: 3,
      rates: { cpuHour: '0.02', memoryGiBHour: '0.005', storageGiBHour: '0.0002', commissionPercent: '10' },
      currency: { code: 'TFC', name: 'Mycelium Credits', symbol: 'TFC', usdRate: '1' },
      priceSources: ['fixed:0.01'],
      maxSlippagePercent: '5',
      priceTimeoutMs: 2000,
    });
  });

  it('reads every value from the environment', () => {
    const config = billingConfigFromEnv({
      MYCELIUM_BILLING_PERIOD_MS: '300',
      MYCELIUM_BILLING_GRACE_MS: '0',
      MYCELIUM_BILLING_LOW_BALANCE_PERIODS: '5',
      MYCELIUM_RATE_CPU_HOUR: '0.03',
      MYCELIUM_RATE_MEMORY_GIB_HOUR: '0.006',
      MYCELIUM_RATE_STORAGE_GIB_HOUR: '0.0001',
      MYCELIUM_COMMISSION_PERCENT: '12.5',
      MYCELIUM_CREDIT_CODE: 'MYC',
      MYCELIUM_CREDIT_NAME: 'Spore Credits',
      MYCELIUM_CREDIT_SYMBOL: '¤',
      MYCELIUM_CREDIT_USD_RATE: '0.5',
      MYCELIUM_PRICE_SOURCES: 'https://a.example/tft#data.usd, fixed:0.02',
      MYCELIUM_PRICE_MAX_SLIPPAGE_PERCENT: '3',
      MYCELIUM_PRICE_TIMEOUT_MS: '500',
    });
    expect(config).toEqual({
      periodMs: 300,
      graceMs: 0,
      lowBalancePeriods: 5,
      rates: { cpuHour: '0.03', memoryGiBHour: '0.006', storageGiBHour: '0.0001', commissionPercent: '12.5' },
      currency: { code: 'MYC', name: 'Spore Credits', symbol: '¤', usdRate: '0.5' },
      priceSources: ['https://a.example/tft#data.usd', 'fixed:0.02'],
      maxSlippagePercent: '3',
      priceTimeoutMs: 500,
    });
  });

  it.each([
    ['MYCELIUM_RATE_CPU_HOUR', '0.1e-3'],
    ['MYCELIUM_COMMISSION_PERCENT', '-5'],
    ['MYCELIUM_CREDIT_USD_RATE', '0'],
    ['MYCELIUM_BILLING_PERIOD_MS', '1.5'],
    ['MYCELIUM_BILLING_PERIOD_MS', '0'],
    ['MYCELIUM_PRICE_SOURCES', 'ftp://prices.example/tft'],
    ['MYCELIUM_PRICE_SOURCES', 'fixed:abc'],
  ])('refuses to start with %s=%s, naming the variable', (name, value) => {
    expect(() => billingConfigFromEnv({ [name]: value })).toThrow(name === 'MYCELIUM_PRICE_SOURCES' ? /price source/ : new RegExp(name));
  });

  it('names a price source by its URL without query or credentials, with the JSON path it reads', () => {
    expect(parsePriceSource('https://user:secret@prices.example/v1/tft?apikey=s3cret#data.price')).toEqual({
      kind: 'http',
      name: 'https://prices.example/v1/tft#data.price',
      url: 'https://user:secret@prices.example/v1/tft?apikey=s3cret',
      path: ['data', 'price'],
    });
    expect(parsePriceSource('http://127.0.0.1:9/tft')).toMatchObject({ path: ['price'], name: 'http://127.0.0.1:9/tft#price' });
    expect(parsePriceSource('fixed:0.01')).toEqual({ kind: 'fixed', name: 'fixed:0.01', price: '0.01' });
    expect(() => parsePriceSource('https://prices.example/tft#data..price')).toThrow(/JSON path/);
  });
});
