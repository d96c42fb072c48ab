import { join } from 'node:path';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type EventStore, followAll, handleCommand, type RecordedEvent } from '@mycelium/eventstore';
import { loadOrCreateSecretBox, type SecretBox } from '@mycelium/identity';
import { EVENT_STORE, loadConfig, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import {
  evolveSubscription,
  SUBSCRIPTION_STREAM_PREFIX,
  type Subscription,
  type SubscriptionCommand,
  subscriptionDecider,
  type SubscriptionEvent,
  type SubscriptionState,
  subscriptionStream,
} from '../domain/subscription/subscription.js';

/**
 * The webhook subscriptions: their streams folded into memory (what the worker delivers and the
 * REST API lists), their commands, and the key that seals their signing secrets
 * (MYCELIUM_GATEWAY_KEY, or one made once under MYCELIUM_HOME).
 */
@Injectable()
export class Subscriptions implements OnModuleInit, OnModuleDestroy {
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #stop = new AbortController();
  readonly #listeners = new Set<(subscription: Subscription) => void>();
  readonly secrets: SecretBox = loadOrCreateSecretBox(process.env, 'MYCELIUM_GATEWAY_KEY', join(loadConfig(process.env).home, 'secrets', 'gateway.key'));

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    void followAll(this.store, {
      streamPrefixes: [SUBSCRIPTION_STREAM_PREFIX],
      signal: this.#stop.signal,
      apply: (events) => {
        for (const event of events) this.#apply(event);
      },
      onError: (error, retryInMs) => this.logger.warn({ err: error, retryInMs }, 'could not read the webhook subscriptions: retrying'),
    });
  }

  onModuleDestroy(): void {
    this.#stop.abort();
  }

  #apply(recorded: RecordedEvent): void {
    const id = recorded.streamId.slice(SUBSCRIPTION_STREAM_PREFIX.length);
    const current = this.#subscriptions.get(id);
    // A page may come again after a failure: fold each version once.
    if ((current?.version ?? 0) >= recorded.streamVersion) return;
    const next = evolveSubscription(current, recorded as unknown as SubscriptionEvent);
    if (!next) return;
    this.#subscriptions.set(id, next);
    for (const listener of this.#listeners) listener(next);
  }

  /** Every subscription known here (deleted ones too: the worker must see them go). */
  all(): Subscription[] {
    return [...this.#subscriptions.values()];
  }

  onChange(listener: (subscription: Subscription) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The subscription as its stream has it now (the view may lag). */
  async get(subscriptionId: string): Promise<SubscriptionState> {
    const history = await this.store.readStream(subscriptionStream(subscriptionId));
    return history.reduce<SubscriptionState>((state, recorded) => evolveSubscription(state, recorded as unknown as SubscriptionEvent), undefined);
  }

  async execute(subscriptionId: string, command: SubscriptionCommand): Promise<SubscriptionState> {
    const { state } = await handleCommand(this.store, subscriptionStream(subscriptionId), subscriptionDecider, command, { maxAttempts: 5 });
    return state;
  }
}
