import { CommandRejection } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import { mute, ServiceMuted } from './notifier.js';

const given = (events: Parameters<typeof mute.evolve>[1][]) => events.reduce(mute.evolve, mute.initialState());

describe('mute decider', () => {
  describe('when the service is not muted', () => {
    it('mutes it', () => {
      expect(mute.decide({ service: 'billing' }, given([]))).toEqual([{ type: ServiceMuted.type, data: { service: 'billing' } }]);
    });
  });

  describe('when the service is already muted', () => {
    it('refuses, naming the field', () => {
      const state = given([{ type: ServiceMuted.type, data: { service: 'billing' } }]);
      expect(() => mute.decide({ service: 'billing' }, state)).toThrow(CommandRejection);
      expect(() => mute.decide({ service: 'billing' }, state)).toThrow(expect.objectContaining({ code: 'ILLEGAL_STATE', field: 'service' }));
    });
  });
});
