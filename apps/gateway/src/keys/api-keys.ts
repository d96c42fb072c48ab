import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ApiKeyIssued, type ApiKeyIssuedV1, ApiKeyRevoked, type ApiKeyRevokedV1, type ApiKeyScope, type ApiKeyView, CommandRejection, ErrorCodes } from '@mycelium/contracts';
import { type EventStore, followAll, type RecordedEvent } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

const STREAM_PREFIX = 'gateway/api-key/';
const KEY = /^myc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Retries after a store failure start quick (a blip) and back off to this (a long outage). */
const MAX_RETRY_MS = 15_000;
/** Requests that may wait at once for the keys to load; the rest are told to retry at once. */
const MAX_READY_WAITERS = 1000;
/** How long `issue` waits for its own key to be folded in before answering anyway. */
const ISSUE_VISIBLE_MS = 5000;

export interface ApiKeyHolder {
  keyId: string;
  name: string;
  tenant?: string;
  scopes: ApiKeyScope[];
}

export interface ApiKeysStatus {
  /** Every key issued before this instance started is known: a key it does not know is wrong. */
  ready: boolean;
  state: 'catching-up' | 'following' | 'retrying';
  /** Log position read up to. */
  position: string;
  /** Store failures since the last successful read. */
  failures: number;
  lastError?: string;
  /** `issue` calls waiting to see their own key. */
  waitingIssues: number;
  /** Requests waiting for the keys to load. */
  waitingRequests: number;
}

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * API keys: `myc_<key id>_<secret>`. The log keeps a hash of each secret; this folds the key
 * streams into memory (tailing them, like every projection) to check a presented key. A store
 * failure (PostgreSQL restarting) pauses the tailing, which resumes where it stopped.
 */
@Injectable()
export class ApiKeys implements OnModuleInit, OnModuleDestroy {
  readonly #keys = new Map<string, ApiKeyIssuedV1 & { revokedAt?: string }>();
  readonly #stop = new AbortController();
  /** Everything in the log up to here has been read: where reading resumes after a failure. */
  #position = 0n;
  readonly #waiters = new Set<{ position: bigint; done: () => void }>();
  readonly #readyWaiters = new Set<(ready: boolean) => void>();
  #state: ApiKeysStatus['state'] = 'catching-up';
  #failures = 0;
  #lastError: string | undefined;
  #isReady = false;
  #markReady!: () => void;
  /** Resolves once every key issued before this instance started is known. */
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    void followAll(this.store, {
      streamPrefixes: [STREAM_PREFIX],
      signal: this.#stop.signal,
      maxBackoffMs: MAX_RETRY_MS,
      apply: (events) => {
        for (const event of events) this.#apply(event);
      },
      onCaughtUp: () => {
        this.#state = 'following';
        this.#isReady = true;
        this.#markReady();
        for (const waiter of this.#readyWaiters) waiter(true);
      },
      onError: (error, retryInMs) => {
        this.#state = 'retrying';
        this.#failures += 1;
        this.#lastError = (error as Error).message;
        this.logger.error(
          { err: error, failures: this.#failures, retryInMs, position: this.#position.toString() },
          'the API key projection lost the event store; it resumes from its last position',
        );
      },
      onRecovered: () => {
        this.#state = this.#isReady ? 'following' : 'catching-up';
        this.#failures = 0;
        this.#lastError = undefined;
      },
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  #apply(event: RecordedEvent): void {
    if (event.type === ApiKeyIssued.type) {
      const issued = event.data as ApiKeyIssuedV1;
      this.#keys.set(issued.keyId, issued);
    } else if (event.type === ApiKeyRevoked.type) {
      const revoked = event.data as ApiKeyRevokedV1;
      const known = this.#keys.get(revoked.keyId);
      if (known) this.#keys.set(revoked.keyId, { ...known, revokedAt: revoked.at });
    }
    this.#advance(event.position);
  }

  #advance(position: bigint): void {
    if (position <= this.#position) return;
    this.#position = position;
    for (const waiter of this.#waiters) if (waiter.position <= position) waiter.done();
  }

  /**
   * True once ready; false if that takes longer than `timeoutMs`, or at once when too many
   * requests wait already (a store that stays away must not let waiting requests pile up).
   */
  async whenReady(timeoutMs: number): Promise<boolean> {
    if (this.#isReady) return true;
    if (this.#readyWaiters.size >= MAX_READY_WAITERS) return false;
    return new Promise<boolean>((resolve) => {
      const waiter = (ready: boolean) => {
        clearTimeout(timer);
        this.#readyWaiters.delete(waiter);
        resolve(ready);
      };
      const timer = setTimeout(waiter, timeoutMs, false);
      this.#readyWaiters.add(waiter);
    });
  }

  status(): ApiKeysStatus {
    return {
      ready: this.#isReady,
      state: this.#state,
      position: this.#position.toString(),
      failures: this.#failures,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      waitingIssues: this.#waiters.size,
      waitingRequests: this.#readyWaiters.size,
    };
  }

  /** Issues a key; the secret is returned here and nowhere else. */
  async issue(request: { name: string; scopes: ApiKeyScope[]; tenant?: string }): Promise<{ keyId: string; key: string }> {
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const { lastPosition } = await this.store.append(
      `${STREAM_PREFIX}${keyId}`,
      [
        {
          type: ApiKeyIssued.type,
          data: { keyId, name: request.name, ...(request.tenant ? { tenant: request.tenant } : {}), scopes: request.scopes, secretHash: hashOf(secret), at: new Date().toISOString() },
        },
      ],
      { expectedVersion: 'no-stream' },
    );
    // The caller will use the key at once: answer only when this instance knows it.
    await this.#reached(lastPosition, ISSUE_VISIBLE_MS);
    return { keyId, key: `myc_${keyId}_${secret}` };
  }

  /** Revokes a key; false when it was revoked already. Answers once this instance refuses it. */
  async revoke(keyId: string, reason: string): Promise<boolean> {
    const stream = `${STREAM_PREFIX}${keyId}`;
    const history = await this.store.readStream(stream);
    if (history.length === 0) throw new CommandRejection({ code: ErrorCodes.NotFound, message: `no API key ${keyId}`, field: 'keyId' });
    if (history.some((event) => event.type === ApiKeyRevoked.type)) return false;
    const { lastPosition } = await this.store.append(stream, [{ type: ApiKeyRevoked.type, data: { keyId, reason, at: new Date().toISOString() } }], {
      expectedVersion: history.at(-1)!.streamVersion,
    });
    await this.#reached(lastPosition, ISSUE_VISIBLE_MS);
    return true;
  }

  /** Every key known here, newest first, never a secret or its hash. */
  list(tenant?: string): ApiKeyView[] {
    return [...this.#keys.values()]
      .filter((key) => tenant === undefined || key.tenant === tenant)
      .map(({ keyId, name, tenant: keyTenant, scopes, at, revokedAt }) => ({ keyId, name, ...(keyTenant ? { tenant: keyTenant } : {}), scopes, issuedAt: at, ...(revokedAt ? { revokedAt } : {}) }))
      .sort((a, b) => b.issuedAt.localeCompare(a.issuedAt));
  }

  /** Resolves once the log has been read up to `position`, or after `timeoutMs`. */
  async #reached(position: bigint, timeoutMs: number): Promise<void> {
    if (this.#position >= position) return;
    await new Promise<void>((resolve) => {
      const waiter = {
        position,
        done: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.done, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** The holder of `presented`, or undefined for a key that is unknown or wrong. */
  check(presented: string): ApiKeyHolder | undefined {
    const match = KEY.exec(presented);
    if (!match) return undefined;
    const known = this.#keys.get(match[1]!);
    if (!known || known.revokedAt) return undefined;
    const expected = Buffer.from(known.secretHash, 'hex');
    const actual = Buffer.from(hashOf(match[2]!), 'hex');
    if (!timingSafeEqual(expected, actual)) return undefined;
    return { keyId: known.keyId, name: known.name, ...(known.tenant ? { tenant: known.tenant } : {}), scopes: known.scopes };
  }
}
