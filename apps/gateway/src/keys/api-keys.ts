import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ApiKeyIssued, type ApiKeyIssuedV1, type ApiKeyScope } from '@mycelium/contracts';
import type { EventStore, RecordedEvent } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

const STREAM_PREFIX = 'gateway/api-key/';
const KEY = /^myc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface ApiKeyHolder {
  keyId: string;
  name: string;
  tenant?: string;
  scopes: ApiKeyScope[];
}

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

/**
 * API keys: `myc_<key id>_<secret>`. The log keeps a hash of each secret; this folds the key
 * streams into memory (tailing them, like every projection) to check a presented key.
 */
@Injectable()
export class ApiKeys implements OnModuleInit, OnModuleDestroy {
  readonly #keys = new Map<string, ApiKeyIssuedV1>();
  readonly #stop = new AbortController();
  #position = 0n;
  readonly #waiters = new Set<{ position: bigint; done: () => void }>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    void (async () => {
      for await (const page of this.store.subscribeAllPages({ streamPrefixes: [STREAM_PREFIX], signal: this.#stop.signal })) {
        for (const event of page) this.#apply(event);
      }
    })().catch((error: unknown) => {
      if (!this.#stop.signal.aborted) this.logger.error({ err: error }, 'the API key projection stopped');
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  #apply(event: RecordedEvent): void {
    if (event.type === ApiKeyIssued.type) {
      const issued = event.data as ApiKeyIssuedV1;
      this.#keys.set(issued.keyId, issued);
    }
    this.#position = event.position;
    for (const waiter of this.#waiters) if (waiter.position <= event.position) waiter.done();
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
    if (this.#position < lastPosition) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        this.#waiters.add({ position: lastPosition, done: () => (clearTimeout(timer), resolve()) });
      });
    }
    return { keyId, key: `myc_${keyId}_${secret}` };
  }

  /** The holder of `presented`, or undefined for a key that is unknown or wrong. */
  check(presented: string): ApiKeyHolder | undefined {
    const match = KEY.exec(presented);
    if (!match) return undefined;
    const known = this.#keys.get(match[1]!);
    if (!known) return undefined;
    const expected = Buffer.from(known.secretHash, 'hex');
    const actual = Buffer.from(hashOf(match[2]!), 'hex');
    if (!timingSafeEqual(expected, actual)) return undefined;
    return { keyId: known.keyId, name: known.name, ...(known.tenant ? { tenant: known.tenant } : {}), scopes: known.scopes };
  }
}
