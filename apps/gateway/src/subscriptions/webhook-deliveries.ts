import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type EventStore, type Lease } from '@mycelium/eventstore';
import { type DeliveryPolicy, deliverWebhook, EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import type { Subscription } from '../domain/subscription/subscription.js';
import { matches, publicEvent } from '../events/event-filter.js';
import { EventHub } from '../events/event-hub.js';
import { cloudEventRequest } from './cloudevent-http.js';
import { Subscriptions } from './subscriptions.js';

export const WEBHOOKS_LEASE = 'gateway-webhooks';
/** Events read per page of the log while delivering; one progress event per page delivered. */
const PAGE = 100;

const integer = (value: string | undefined, fallback: number) => (value && Number.isInteger(Number(value)) && Number(value) > 0 ? Number(value) : fallback);

/** How hard delivery tries one event before the subscription is disabled (MYCELIUM_WEBHOOK_*). */
export function webhookPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): DeliveryPolicy {
  return {
    attempts: integer(env.MYCELIUM_WEBHOOK_ATTEMPTS, 5),
    backoffMs: integer(env.MYCELIUM_WEBHOOK_BACKOFF_MS, 1000),
    maxBackoffMs: integer(env.MYCELIUM_WEBHOOK_MAX_BACKOFF_MS, 30_000),
    timeoutMs: integer(env.MYCELIUM_WEBHOOK_TIMEOUT_MS, 5000),
  };
}

/**
 * Delivers the event API to webhook subscriptions, in one gateway instance at a time (a lease):
 * each subscription in log order from where its record says delivery got to, one CloudEvents HTTP
 * request per event, signed `X-Mycelium-Signature: sha256=<HMAC of the body>`, retried with
 * backoff. Progress is recorded once per page; when every attempt at one event fails, the failure
 * and the subscription's disabling are recorded and delivery stops there, to resume at that event
 * once it is enabled. At least once: a new holder of the lease may send a page again, and the
 * receiver drops repeats by the CloudEvent id.
 */
@Injectable()
export class WebhookDeliveries implements OnApplicationBootstrap, OnModuleDestroy {
  #lease: Lease | undefined;
  #stopped = false;
  #leaseTimer: NodeJS.Timeout | undefined;
  readonly #running = new Set<string>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #policy = webhookPolicyFromEnv();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    private readonly subscriptions: Subscriptions,
    private readonly hub: EventHub,
  ) {}

  get leading(): boolean {
    return this.#lease?.isHeld === true;
  }

  onApplicationBootstrap(): void {
    this.#unsubscribe.push(this.subscriptions.onChange((subscription) => this.#start(subscription)));
    void this.#tryLead();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#leaseTimer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await this.#lease?.release().catch(() => undefined);
  }

  async #tryLead(): Promise<void> {
    if (this.#stopped) return;
    if (!this.leading) {
      try {
        const lease = await this.store.tryAcquireLease(WEBHOOKS_LEASE);
        if (lease && !this.#stopped) {
          this.#lease = lease;
          this.logger.info('this gateway instance delivers the webhook subscriptions');
          for (const subscription of this.subscriptions.all()) this.#start(subscription);
        } else await lease?.release();
      } catch (error) {
        this.logger.warn({ err: error }, 'could not ask for the webhook lease');
      }
    }
    this.#leaseTimer = setTimeout(() => void this.#tryLead(), 1000);
    this.#leaseTimer.unref();
  }

  #start(subscription: Subscription): void {
    if (!this.leading || this.#stopped || subscription.status !== 'active' || this.#running.has(subscription.subscriptionId)) return;
    this.#running.add(subscription.subscriptionId);
    this.#deliver(subscription.subscriptionId)
      .catch((error: unknown) => this.logger.warn({ err: error, subscriptionId: subscription.subscriptionId }, 'webhook delivery stopped; it starts again'))
      .finally(() => {
        this.#running.delete(subscription.subscriptionId);
        // Stopped by a passing failure, not by its own state: go on after a pause.
        const current = this.subscriptions.all().find((candidate) => candidate.subscriptionId === subscription.subscriptionId);
        if (current?.status === 'active' && !this.#stopped) setTimeout(() => this.#start(current), 1000).unref();
      });
  }

  async #deliver(subscriptionId: string): Promise<void> {
    let subscription = await this.subscriptions.get(subscriptionId);
    if (!subscription || subscription.status !== 'active') return;
    const secret = this.subscriptions.secrets.open(subscription.sealedSecret, `subscription:${subscriptionId}`);
    let cursor = subscription.deliveredUpTo;
    while (!this.#stopped && this.leading) {
      const view = this.subscriptions.all().find((candidate) => candidate.subscriptionId === subscriptionId);
      if (view && view.status !== 'active') return;
      subscription = view ?? subscription;
      const page = await this.store.readAll({ after: cursor, maxCount: PAGE });
      const filter = { ...(subscription.tenant ? { tenant: subscription.tenant } : {}), types: subscription.types, ...(subscription.subject ? { subject: subscription.subject } : {}) };
      const wanted = page.events.map(publicEvent).filter((event) => matches(filter, event));
      let delivered = 0;
      let lastStatus = 0;
      let upTo = cursor;
      for (const event of wanted) {
        if (this.#stopped || !this.leading) break;
        const request = cloudEventRequest(event.json, subscription.mode);
        const result = await deliverWebhook(
          { url: subscription.url, body: request.body, headers: { ...request.headers, 'X-Mycelium-Delivery': event.id }, secret },
          this.#policy,
          () => this.#stopped,
        );
        if (!result.ok) {
          if (this.#stopped) return;
          const now = new Date().toISOString();
          if (delivered > 0) await this.subscriptions.execute(subscriptionId, { type: 'RecordDelivered', data: { upTo, count: delivered, status: lastStatus, now } });
          await this.subscriptions.execute(subscriptionId, {
            type: 'RecordFailed',
            data: { position: event.position, eventId: event.id, attempts: result.attempts, ...(result.status === undefined ? {} : { status: result.status }), error: result.error, disable: true, now },
          });
          this.logger.warn({ subscriptionId, url: subscription.url, error: result.error }, `webhook subscription ${subscriptionId} disabled: its receiver kept failing`);
          return;
        }
        delivered += 1;
        lastStatus = result.status;
        upTo = event.position;
      }
      if (this.#stopped || !this.leading) return;
      // Everything examined was delivered: the whole page counts.
      if (delivered === wanted.length) upTo = page.next;
      if (delivered > 0) await this.subscriptions.execute(subscriptionId, { type: 'RecordDelivered', data: { upTo, count: delivered, status: lastStatus, now: new Date().toISOString() } });
      cursor = upTo;
      if (!page.isFull) await this.hub.nextEvents(1000);
    }
  }

}
