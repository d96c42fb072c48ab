import { describe, expect, it } from 'vitest';
import { BUFFER_PERCENT, convertAtAverage, type SourceAnswer } from './oracle.js';

const rules = { maxSlippagePercent: '5', bufferPercent: BUFFER_PERCENT };
const refusal = (answers: SourceAnswer[]) => {
  try {
    convertAtAverage('r', '1', answers, rules);
  } catch (error) {
    return error as { code: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a refusal');
};

describe('the TFT price oracle', () => {
  it('converts at the average of the sources plus the 2% buffer', () => {
    const conversion = convertAtAverage(
      'r1',
      '1.5',
      [
        { source: 'a', price: '0.0100' },
        { source: 'b', price: '0.0102' },
        { source: 'c', price: '0.0101' },
      ],
      rules,
    );
    // rate 0.0101; 1.5 / 0.0101 × 1.02 = 151.48514851485…
    expect(conversion).toEqual({
      reservationId: 'r1',
      usd: '1.5',
      tftUsdRate: '0.0101',
      tft: '151.48514851',
      bufferPercent: '2',
      sources: [
        { source: 'a', price: '0.0100' },
        { source: 'b', price: '0.0102' },
        { source: 'c', price: '0.0101' },
      ],
    });
  });

  it('rounds a repeating average to 8 decimals and converts at the rounded rate', () => {
    const conversion = convertAtAverage('r', '1', [{ source: 'a', price: '0.01' }, { source: 'b', price: '0.01' }, { source: 'c', price: '0.0105' }], rules);
    expect(conversion.tftUsdRate).toBe('0.01016667');
    // 1 / 0.01016667 × 1.02 = 100.3278359580…
    expect(conversion.tft).toBe('100.32783596');
  });

  it('uses the sources that answered when one of three is down', () => {
    const conversion = convertAtAverage('r', '2', [{ source: 'a', price: '0.02' }, { source: 'b', error: 'timed out after 2000 ms' }, { source: 'c', price: '0.02' }], rules);
    expect(conversion).toMatchObject({ tftUsdRate: '0.02', tft: '102', sources: [{ source: 'a' }, { source: 'c' }] });
  });

  it('refuses with PRICE_UNAVAILABLE when no source answers, saying why each failed', () => {
    const error = refusal([{ source: 'a', error: 'HTTP 500' }, { source: 'b', error: 'connection refused' }]);
    expect(error.code).toBe('PRICE_UNAVAILABLE');
    expect(error.message).toMatch(/a: HTTP 500; b: connection refused/);
  });

  it('refuses with PRICE_UNAVAILABLE when no source is configured', () => {
    expect(refusal([]).code).toBe('PRICE_UNAVAILABLE');
  });

  it('refuses with PRICE_SLIPPAGE when the sources disagree by more than the limit, and accepts exactly the limit', () => {
    const error = refusal([{ source: 'a', price: '0.01' }, { source: 'b', price: '0.010501' }]);
    expect(error.code).toBe('PRICE_SLIPPAGE');
    expect(error.message).toMatch(/5\.01%, more than the 5% allowed/);
    expect(error.details).toMatchObject({ slippagePercent: '5.01' });
    expect(convertAtAverage('r', '1', [{ source: 'a', price: '0.01' }, { source: 'b', price: '0.0105' }], rules).tftUsdRate).toBe('0.01025');
  });

  it('converts nothing to nothing', () => {
    expect(convertAtAverage('r', '0', [{ source: 'fixed:0.01', price: '0.01' }], rules).tft).toBe('0');
  });
});
