import { Matches, ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * A tenant id: it appears in host names (`<app>.<tenant>.localhost`), paths and stream ids, so it
 * is a DNS label.
 */
export const TENANT = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** The tenant of keys that name none (the local grid's admin key acts for it). */
export const DEFAULT_TENANT = 'default';

export function IsTenant(options: ValidationOptions = {}): PropertyDecorator {
  return Matches(TENANT, { message: '$property must be lower-case letters, digits and inner dashes (a DNS label of at most 40 characters)', ...options });
}

/** A credit amount as text: digits, an optional fraction of up to 8 digits; no sign, no exponent. */
export const CREDIT_AMOUNT = /^(0|[1-9]\d{0,14})(\.\d{1,8})?$/;

/** Amounts travel as decimal strings so no float ever rounds them (docs/adr/0013). */
export function IsCreditAmount(options: ValidationOptions & { positive?: boolean } = {}): PropertyDecorator {
  const { positive = false, ...validation } = options;
  return ValidateBy(
    {
      name: 'isCreditAmount',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && CREDIT_AMOUNT.test(value) && (!positive || /[1-9]/.test(value)),
        defaultMessage: () =>
          `$property must be a decimal string such as "12.50" (at most 8 decimals, no sign or exponent${positive ? ', more than zero' : ''})`,
      },
    },
    validation,
  );
}
