import { SubscriptionDelivered, SubscriptionDeliveryFailed, SubscriptionDisabled, SubscriptionEnabled } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import { decideSubscription, DELIVERY_RECORD_LIMIT, evolveSubscription, type SubscriptionCommand, type SubscriptionState } from './subscription.js';

const now = '2026-12-03T10:00:00.000Z';
const ID = 'sub_00000000000000000001';
const create: SubscriptionCommand = {
  type: 'Create',
  data: { subscriptionId: ID, url: 'https://hooks.example.com/h', types: [], mode: 'structured', sealedSecret: 'sealed', after: '100', keyId: '0123456789abcdef', now },
};

const given = (commands: SubscriptionCommand[]): SubscriptionState => commands.reduce<SubscriptionState>((state, command) => decideSubscription(command, state).reduce(evolveSubscription, state), undefined);
const delivered = (upTo: bigint): SubscriptionCommand => ({ type: 'RecordDelivered', data: { upTo, count: 1, status: 204, now } });
const failed = (position: bigint): SubscriptionCommand => ({ type: 'RecordFailed', data: { position, eventId: 'e-1', attempts: 5, status: 503, error: 'HTTP 503', disable: true, now } });

describe('a webhook subscription', () => {
  it('starts after the position it was created at and moves forward only', () => {
    const state = given([create, delivered(150n)]);
    expect(state).toMatchObject({ status: 'active', deliveredUpTo: 150n });
    expect(decideSubscription(delivered(120n), state)).toEqual([]);
    expect(decideSubscription(delivered(151n), state).map((event) => event.type)).toEqual([SubscriptionDelivered.type]);
  });

  describe('when every attempt at an event fails', () => {
    const state = given([create, delivered(150n), failed(160n)]);

    it('records the failure and disables it, to resume after what was delivered', () => {
      expect(state).toMatchObject({ status: 'disabled', deliveredUpTo: 150n });
      expect(state!.deliveries.map((record) => record.kind)).toEqual(['delivered', 'failed', 'disabled']);
      expect(decideSubscription(delivered(170n), state)).toEqual([]);
      expect(decideSubscription(failed(160n), state)).toEqual([]);
    });

    it('is enabled once, and delivers again from there', () => {
      const events = decideSubscription({ type: 'Enable', data: { now } }, state);
      expect(events.map((event) => event.type)).toEqual([SubscriptionEnabled.type]);
      const enabled = events.reduce(evolveSubscription, state);
      expect(enabled).toMatchObject({ status: 'active', deliveredUpTo: 150n });
      expect(decideSubscription({ type: 'Enable', data: { now } }, enabled)).toEqual([]);
    });
  });

  it('refuses anything once deleted, as not found', () => {
    const deleted = given([create, { type: 'Delete', data: { now } }]);
    expect(() => decideSubscription(delivered(200n), deleted)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('keeps its newest delivery records only, and a failure short of the last attempt does not disable it', () => {
    const state = given([create, ...Array.from({ length: DELIVERY_RECORD_LIMIT + 20 }, (_, i) => delivered(BigInt(200 + i)))]);
    expect(state!.deliveries).toHaveLength(DELIVERY_RECORD_LIMIT);
    const soft = decideSubscription({ type: 'RecordFailed', data: { position: 500n, eventId: 'e-2', attempts: 1, error: 'timeout', disable: false, now } }, state);
    expect(soft.map((event) => event.type)).toEqual([SubscriptionDeliveryFailed.type]);
    expect(soft.map((event) => event.type)).not.toContain(SubscriptionDisabled.type);
  });
});
