import {
  CommandRejection,
  ErrorCodes,
  SubscriptionCreated,
  type SubscriptionCreatedV1,
  SubscriptionDeleted,
  SubscriptionDelivered,
  type SubscriptionDeliveredV1,
  SubscriptionDeliveryFailed,
  type SubscriptionDeliveryFailedV1,
  SubscriptionDisabled,
  type SubscriptionDisabledV1,
  SubscriptionEnabled,
  type SubscriptionEnabledV1,
  type SubscriptionMode,
} from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';

export const SUBSCRIPTION_STREAM_PREFIX = 'gateway/subscription/';
export const subscriptionStream = (subscriptionId: string) => `${SUBSCRIPTION_STREAM_PREFIX}${subscriptionId}`;

export type SubscriptionEvent =
  | { type: typeof SubscriptionCreated.type; data: SubscriptionCreatedV1 }
  | { type: typeof SubscriptionDelivered.type; data: SubscriptionDeliveredV1 }
  | { type: typeof SubscriptionDeliveryFailed.type; data: SubscriptionDeliveryFailedV1 }
  | { type: typeof SubscriptionDisabled.type; data: SubscriptionDisabledV1 }
  | { type: typeof SubscriptionEnabled.type; data: SubscriptionEnabledV1 }
  | { type: typeof SubscriptionDeleted.type; data: SubscriptionEnabledV1 };

/** One line of a subscription's delivery record, as GET …/deliveries shows it. */
export type DeliveryRecord =
  | { kind: 'delivered'; upTo: string; count: number; status: number; at: string }
  | { kind: 'failed'; position: string; eventId: string; attempts: number; status?: number; error: string; at: string }
  | { kind: 'disabled'; reason: string; at: string }
  | { kind: 'enabled'; at: string };

/** How many delivery lines a subscription's state keeps (the log keeps them all). */
export const DELIVERY_RECORD_LIMIT = 100;

export interface Subscription {
  subscriptionId: string;
  tenant?: string;
  url: string;
  types: string[];
  subject?: string;
  mode: SubscriptionMode;
  sealedSecret: string;
  keyId: string;
  createdAt: string;
  status: 'active' | 'disabled' | 'deleted';
  /** Every matching event up to here has been delivered. */
  deliveredUpTo: bigint;
  deliveries: DeliveryRecord[];
  version: number;
}

export type SubscriptionState = Subscription | undefined;

export type SubscriptionCommand =
  | { type: 'Create'; data: Omit<SubscriptionCreatedV1, 'at'> & { now: string } }
  | { type: 'RecordDelivered'; data: { upTo: bigint; count: number; status: number; now: string } }
  | { type: 'RecordFailed'; data: { position: bigint; eventId: string; attempts: number; status?: number; error: string; disable: boolean; now: string } }
  | { type: 'Enable'; data: { now: string } }
  | { type: 'Delete'; data: { now: string } };

const recent = (records: DeliveryRecord[], record: DeliveryRecord) => [...records, record].slice(-DELIVERY_RECORD_LIMIT);

export function evolveSubscription(state: SubscriptionState, event: SubscriptionEvent): SubscriptionState {
  if (event.type === SubscriptionCreated.type) {
    const { at, after, ...created } = event.data;
    return { ...created, createdAt: at, status: 'active', deliveredUpTo: BigInt(after), deliveries: [], version: 1 };
  }
  if (!state) return state;
  const next = { ...state, version: state.version + 1 };
  switch (event.type) {
    case SubscriptionDelivered.type: {
      const { upTo, count, status, at } = event.data;
      return { ...next, deliveredUpTo: BigInt(upTo), deliveries: recent(state.deliveries, { kind: 'delivered', upTo, count, status, at }) };
    }
    case SubscriptionDeliveryFailed.type: {
      const { position, eventId, attempts, status, error, at } = event.data;
      return { ...next, deliveries: recent(state.deliveries, { kind: 'failed', position, eventId, attempts, ...(status === undefined ? {} : { status }), error, at }) };
    }
    case SubscriptionDisabled.type:
      return { ...next, status: 'disabled', deliveredUpTo: BigInt(event.data.resumeAfter), deliveries: recent(state.deliveries, { kind: 'disabled', reason: event.data.reason, at: event.data.at }) };
    case SubscriptionEnabled.type:
      return { ...next, status: 'active', deliveries: recent(state.deliveries, { kind: 'enabled', at: event.data.at }) };
    case SubscriptionDeleted.type:
      return { ...next, status: 'deleted' };
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

export function decideSubscription(command: SubscriptionCommand, state: SubscriptionState): SubscriptionEvent[] {
  if (command.type === 'Create') {
    if (state) return [];
    const { now, ...created } = command.data;
    return [{ type: SubscriptionCreated.type, data: { ...created, at: now } }];
  }
  if (!state || state.status === 'deleted') throw new CommandRejection({ code: ErrorCodes.NotFound, message: 'no such subscription', field: 'subscriptionId' });
  const { subscriptionId } = state;
  switch (command.type) {
    case 'RecordDelivered': {
      const { upTo, count, status, now } = command.data;
      // A delivery a stale worker finished after another moved on says nothing new.
      if (state.status !== 'active' || upTo <= state.deliveredUpTo) return [];
      return [{ type: SubscriptionDelivered.type, data: { subscriptionId, upTo: upTo.toString(), count, status, at: now } }];
    }
    case 'RecordFailed': {
      if (state.status !== 'active') return [];
      const { position, eventId, attempts, status, error, disable, now } = command.data;
      const failed: SubscriptionEvent = {
        type: SubscriptionDeliveryFailed.type,
        data: { subscriptionId, position: position.toString(), eventId, attempts, ...(status === undefined ? {} : { status }), error: error.slice(0, 1000), at: now },
      };
      if (!disable) return [failed];
      const reason = `every one of ${attempts} attempts to deliver event ${eventId} failed (last: ${error.slice(0, 300)}): fix the receiver, then enable the subscription`;
      return [failed, { type: SubscriptionDisabled.type, data: { subscriptionId, reason, resumeAfter: state.deliveredUpTo.toString(), at: now } }];
    }
    case 'Enable':
      return state.status === 'disabled' ? [{ type: SubscriptionEnabled.type, data: { subscriptionId, at: command.data.now } }] : [];
    case 'Delete':
      return [{ type: SubscriptionDeleted.type, data: { subscriptionId, at: command.data.now } }];
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}

export const subscriptionDecider: Decider<SubscriptionCommand, SubscriptionEvent, SubscriptionState> = {
  decide: decideSubscription,
  evolve: evolveSubscription,
  initialState: () => undefined,
};
