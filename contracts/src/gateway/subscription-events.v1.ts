import { ArrayMaxSize, IsArray, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUrl, Length, Matches, Min } from 'class-validator';
import { defineEvent } from '../registry.js';
import { IsTenant } from '../tenancy.js';

/**
 * Webhook subscriptions to the event API (`gateway/subscription/<id>`, docs/adr/0021): created
 * with what they want and where it goes, then their deliveries as they happen: progress in
 * batches, each failed attempt, and disabling after the last attempt at one event failed.
 */
export const SUBSCRIPTION_ID = /^sub_[0-9a-f]{20}$/;
export const SUBSCRIPTION_MODES = ['structured', 'binary'] as const;
export type SubscriptionMode = (typeof SUBSCRIPTION_MODES)[number];

export class SubscriptionCreatedV1 {
  @Matches(SUBSCRIPTION_ID)
  subscriptionId!: string;

  /** Only this tenant's events; none: every event (an operator's subscription). */
  @IsOptional()
  @IsTenant()
  tenant?: string;

  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  url!: string;

  /** Event type prefixes; empty: every type. */
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  types!: string[];

  @IsOptional()
  @IsString()
  @Length(1, 300)
  subject?: string;

  /** CloudEvents HTTP binding: structured (the whole event as the body) or binary (ce-* headers, data as body). */
  @IsIn(SUBSCRIPTION_MODES)
  mode!: SubscriptionMode;

  /** The signing secret, sealed with the gateway's key: it must stay usable to sign. */
  @IsString()
  @Length(1, 500)
  sealedSecret!: string;

  /** Events after this log position are delivered. */
  @Matches(/^[0-9]+$/)
  after!: string;

  /** The key that created it. */
  @Matches(/^[0-9a-f]{16}$/)
  keyId!: string;

  @IsISO8601()
  at!: string;
}

export const SubscriptionCreated = defineEvent({
  service: 'gateway',
  aggregate: 'subscription',
  name: 'subscription-created',
  version: 1,
  payload: SubscriptionCreatedV1,
  description: 'A webhook subscription to the event API was created: what it wants, where it goes, from which position.',
});

export class SubscriptionDeliveredV1 {
  @Matches(SUBSCRIPTION_ID)
  subscriptionId!: string;

  /** Every matching event up to this position has been delivered. */
  @Matches(/^[0-9]+$/)
  upTo!: string;

  /** Events delivered in this batch. */
  @IsInt()
  @Min(0)
  count!: number;

  /** The receiver's last answer. */
  @IsInt()
  status!: number;

  @IsISO8601()
  at!: string;
}

export const SubscriptionDelivered = defineEvent({
  service: 'gateway',
  aggregate: 'subscription',
  name: 'subscription-delivered',
  version: 1,
  payload: SubscriptionDeliveredV1,
  description: 'A batch of events was delivered to a webhook subscription: where delivery has got to.',
});

export class SubscriptionDeliveryFailedV1 {
  @Matches(SUBSCRIPTION_ID)
  subscriptionId!: string;

  @Matches(/^[0-9]+$/)
  position!: string;

  @IsString()
  @Length(1, 100)
  eventId!: string;

  @IsInt()
  @Min(1)
  attempts!: number;

  @IsOptional()
  @IsInt()
  status?: number;

  @IsString()
  @Length(1, 1000)
  error!: string;

  @IsISO8601()
  at!: string;
}

export const SubscriptionDeliveryFailed = defineEvent({
  service: 'gateway',
  aggregate: 'subscription',
  name: 'subscription-delivery-failed',
  version: 1,
  payload: SubscriptionDeliveryFailedV1,
  description: 'Every attempt to deliver one event to a webhook subscription failed (the receiver refused, erred or did not answer).',
});

export class SubscriptionDisabledV1 {
  @Matches(SUBSCRIPTION_ID)
  subscriptionId!: string;

  @IsString()
  @Length(1, 1000)
  reason!: string;

  /** Delivery resumes after this position when the subscription is enabled again. */
  @Matches(/^[0-9]+$/)
  resumeAfter!: string;

  @IsISO8601()
  at!: string;
}

export const SubscriptionDisabled = defineEvent({
  service: 'gateway',
  aggregate: 'subscription',
  name: 'subscription-disabled',
  version: 1,
  payload: SubscriptionDisabledV1,
  description: 'A webhook subscription was disabled after its receiver kept failing; nothing is delivered until it is enabled again.',
});

export class SubscriptionEnabledV1 {
  @Matches(SUBSCRIPTION_ID)
  subscriptionId!: string;

  @IsISO8601()
  at!: string;
}

export const SubscriptionEnabled = defineEvent({
  service: 'gateway',
  aggregate: 'subscription',
  name: 'subscription-enabled',
  version: 1,
  payload: SubscriptionEnabledV1,
  description: 'A disabled webhook subscription was enabled again: delivery resumes where it stopped.',
});

export const SubscriptionDeleted = defineEvent({
  service: 'gateway',
  aggregate: 'subscription',
  name: 'subscription-deleted',
  version: 1,
  payload: SubscriptionEnabledV1,
  description: 'A webhook subscription was deleted; nothing more is delivered to it.',
});
