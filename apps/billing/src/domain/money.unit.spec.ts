import { describe, expect, it } from 'vitest';
import { amountText, money, splitEvenly, sum } from './money.js';

describe('money', () => {
  it('writes amounts as plain decimals of at most 8 places, rounded half-up', () => {
    expect(amountText(money('12.50'))).toBe('12.5');
    expect(amountText(money('0.000000015'))).toBe('0.00000002');
    expect(amountText(money('0.000000014999'))).toBe('0.00000001');
    expect(amountText(money('0.000000004'))).toBe('0');
    expect(amountText(money('123456789012345.12345678'))).toBe('123456789012345.12345678');
    expect(amountText(money('1e-7'))).toBe('0.0000001');
  });

  it('adds what floats cannot', () => {
    expect(amountText(sum(['0.1', '0.2']))).toBe('0.3');
    expect(amountText(sum(Array.from({ length: 10 }, () => '0.00000001')))).toBe('0.0000001');
  });

  it('splits evenly to the last decimal, the remainder to the first share', () => {
    expect(splitEvenly(money('0.0001'), 3).map(amountText)).toEqual(['0.00003334', '0.00003333', '0.00003333']);
    expect(splitEvenly(money('10'), 4).map(amountText)).toEqual(['2.5', '2.5', '2.5', '2.5']);
    expect(splitEvenly(money('0.00000002'), 3).map(amountText)).toEqual(['0.00000002', '0', '0']);
    for (const [total, parts] of [['1', 7], ['0.99999999', 13], ['123.45678901', 1000]] as const) {
      expect(amountText(sum(splitEvenly(money(total), parts))), `${total} / ${parts}`).toBe(amountText(money(total)));
    }
  });

  it('refuses to split into no parts', () => {
    expect(() => splitEvenly(money(1), 0)).toThrow(RangeError);
  });
});
