import { describe, expect, it } from 'vitest';
import { httpStatusOf } from './account.controller.js';

describe('account errors over HTTP', () => {
  it.each([
    ['VALIDATION_FAILED', 400],
    ['INSUFFICIENT_CREDITS', 402],
    ['FORBIDDEN', 403],
    ['NOT_FOUND', 404],
    ['ILLEGAL_STATE', 409],
    ['CONFLICT', 409],
    ['PRICE_UNAVAILABLE', 503],
    ['PRICE_SLIPPAGE', 503],
    ['SERVICE_UNAVAILABLE', 503],
    ['TIMEOUT', 504],
    ['INTERNAL', 502],
  ])('answers %s with %i', (code, status) => {
    expect(httpStatusOf(code)).toBe(status);
  });
});
