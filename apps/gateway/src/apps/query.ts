import { HttpException } from '@nestjs/common';

/** A whole-number query parameter, or a 400 naming it: `Number('abc')` must not pass as "no value". */
export function integerIn(query: Record<string, unknown>, name: string): number | undefined {
  const text = query[name];
  if (text === undefined) return undefined;
  const value = typeof text === 'string' && /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new HttpException({ error: { code: 'VALIDATION_FAILED', message: `${name} must be a whole number, not "${String(text)}"`, field: name } }, 400);
  }
  return value;
}
