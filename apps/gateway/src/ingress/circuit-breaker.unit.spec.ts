import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.js';

const options = { failureThreshold: 3, coolDownMs: 1000 };

/** A breaker that `failures` consecutive failures at time 0 opened. */
const opened = (failures = 3) => {
  const breaker = new CircuitBreaker(options);
  for (let i = 0; i < failures; i += 1) breaker.failed(0);
  return breaker;
};

describe('circuit breaker', () => {
  describe('when closed', () => {
    it('lets requests through and stays closed below the threshold', () => {
      const breaker = opened(2);
      expect(breaker.state(0)).toBe('closed');
      expect(breaker.acquire(0)).toBe(true);
      expect(breaker.acquire(0)).toBe(true);
    });

    it('opens on the threshold-th consecutive failure, and says so once', () => {
      const breaker = new CircuitBreaker(options);
      expect([breaker.failed(0), breaker.failed(0), breaker.failed(0), breaker.failed(0)]).toEqual([false, false, true, false]);
      expect(breaker.state(0)).toBe('open');
    });

    it('counts only consecutive failures: a success starts the count again', () => {
      const breaker = opened(2);
      breaker.succeeded();
      breaker.failed(0);
      breaker.failed(0);
      expect(breaker.state(0)).toBe('closed');
      expect(breaker.consecutiveFailures).toBe(2);
    });
  });

  describe('when open', () => {
    it('refuses requests during the cool-down', () => {
      const breaker = opened();
      expect(breaker.admits(999)).toBe(false);
      expect(breaker.acquire(999)).toBe(false);
    });

    it('is half-open after the cool-down and lets exactly one trial through', () => {
      const breaker = opened();
      expect(breaker.state(1000)).toBe('half-open');
      expect(breaker.acquire(1000)).toBe(true);
      expect(breaker.acquire(1001)).toBe(false);
      expect(breaker.admits(1001)).toBe(false);
    });
  });

  describe('when half-open', () => {
    it('closes when the trial succeeds', () => {
      const breaker = opened();
      breaker.acquire(1000);
      breaker.succeeded();
      expect(breaker.state(1000)).toBe('closed');
      expect(breaker.acquire(1000)).toBe(true);
      expect(breaker.acquire(1000)).toBe(true);
    });

    it('opens again, for a whole new cool-down, when the trial fails', () => {
      const breaker = opened();
      breaker.acquire(1500);
      expect(breaker.failed(1500)).toBe(true);
      expect(breaker.state(2499)).toBe('open');
      expect(breaker.state(2500)).toBe('half-open');
    });

    it('offers the trial again when the first was abandoned without an outcome', () => {
      const breaker = opened();
      breaker.acquire(1000);
      breaker.abandoned();
      expect(breaker.acquire(1000)).toBe(true);
    });
  });
});
