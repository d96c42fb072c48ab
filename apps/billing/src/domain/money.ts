import { Decimal } from 'decimal.js';

/**
 * Credits are exact: decimal strings on the wire and in events, `Decimal` in code, never a float.
 * Amounts are kept to 8 decimals, rounded half-up; intermediate results carry 50 significant digits
 * so nothing is rounded before the end.
 */
export const Money = Decimal.clone({ precision: 50, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -50, toExpPos: 50 });
export type Money = Decimal;

export const SCALE = 8;

export const money = (value: Decimal.Value): Decimal => new Money(value);

export const ZERO = money(0);

/** To 8 decimals, half-up. */
export const round = (value: Decimal): Decimal => value.toDecimalPlaces(SCALE, Decimal.ROUND_HALF_UP);

/** The decimal string of an amount: 8 decimals at most, no trailing zeros, no exponent. */
export function amountText(value: Decimal): string {
  const rounded = round(value);
  return rounded.isZero() ? '0' : rounded.toFixed();
}

export const sum = (values: Decimal.Value[]): Decimal => values.reduce<Decimal>((total, value) => total.plus(value), ZERO);

/**
 * `total` in `parts` equal shares to the 8th decimal, exactly: each share is rounded down, and what
 * rounding left over goes to the first, so the shares add up to `total`.
 */
export function splitEvenly(total: Decimal, parts: number): Decimal[] {
  if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`cannot split into ${parts} parts`);
  const share = total.dividedBy(parts).toDecimalPlaces(SCALE, Decimal.ROUND_DOWN);
  const remainder = total.minus(share.times(parts));
  return Array.from({ length: parts }, (_, index) => (index === 0 ? share.plus(remainder) : share));
}
