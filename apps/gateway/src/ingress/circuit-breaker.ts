/** When a replica's breaker opens and how long it stays open. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses traffic before it lets one trial request through. */
  coolDownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 5, coolDownMs: 10_000 };

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker for one replica: closed → open after `failureThreshold` consecutive failures →
 * half-open once `coolDownMs` has passed, letting exactly one trial request through → closed when it
 * succeeds, open again (for another cool-down) when it fails. Time comes in as an argument.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #consecutiveFailures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor(readonly options: BreakerOptions = DEFAULT_BREAKER) {}

  /** The state at `now`: an open breaker whose cool-down has passed reads as half-open. */
  state(now: number): BreakerState {
    if (this.#state === 'open' && now - this.#openedAt >= this.options.coolDownMs) return 'half-open';
    return this.#state;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Whether a request may go to the replica now, without taking the half-open trial. */
  admits(now: number): boolean {
    const state = this.state(now);
    return state === 'closed' || (state === 'half-open' && !this.#trialInFlight);
  }

  /**
   * Takes the right to send a request now. In half-open only the first taker gets it (the trial);
   * callers must then report its outcome with succeeded, failed or abandoned.
   */
  acquire(now: number): boolean {
    if (!this.admits(now)) return false;
    if (this.state(now) === 'half-open') {
      this.#state = 'half-open';
      this.#trialInFlight = true;
    }
    return true;
  }

  succeeded(): void {
    this.#state = 'closed';
    this.#consecutiveFailures = 0;
    this.#trialInFlight = false;
  }

  /** Reports a failure; returns true when this failure opened the breaker. */
  failed(now: number): boolean {
    this.#consecutiveFailures += 1;
    const wasOpen = this.#state === 'open';
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#consecutiveFailures >= this.options.failureThreshold)) {
      this.#state = 'open';
      this.#openedAt = now;
    }
    this.#trialInFlight = false;
    return !wasOpen && this.#state === 'open';
  }

  /** The request ended without telling anything about the replica (the client went away). */
  abandoned(): void {
    this.#trialInFlight = false;
  }
}
