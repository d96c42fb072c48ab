import { IdentityRejection } from './errors.js';

/**
 * Refuses signed messages that are too old, from too far in the future, or seen before. A nonce is
 * remembered for as long as its timestamp would still be accepted, so memory stays bounded.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>();
  #lastPrune = 0;

  constructor(private readonly maxSkewMs = 30_000) {}

  /** Throws an IdentityRejection for a stale or replayed message; records it otherwise. */
  check(sender: string, timestamp: unknown, nonce: unknown, now: number): void {
    if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
      throw new IdentityRejection('MALFORMED', 'the message has no timestamp (ms since the epoch)');
    }
    if (typeof nonce !== 'string' || nonce.length < 8 || nonce.length > 64) {
      throw new IdentityRejection('MALFORMED', 'the message has no nonce');
    }
    if (Math.abs(now - timestamp) > this.maxSkewMs) {
      throw new IdentityRejection(
        'STALE_TIMESTAMP',
        `the message is ${Math.round((now - timestamp) / 1000)} s off this service's clock (at most ${this.maxSkewMs / 1000} s allowed): check the node's clock (NTP)`,
      );
    }
    const key = `${sender}:${nonce}`;
    if (this.#seen.has(key)) throw new IdentityRejection('REPLAY', 'this message was already received (same nonce): it is a replay');
    this.#seen.set(key, timestamp + this.maxSkewMs);
    if (now - this.#lastPrune > this.maxSkewMs) this.#prune(now);
  }

  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    this.#lastPrune = now;
    for (const [key, expires] of this.#seen) if (expires < now) this.#seen.delete(key);
  }
}
