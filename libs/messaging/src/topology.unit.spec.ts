import { describe, expect, it } from 'vitest';
import { Topology } from './topology.js';

describe('topology', () => {
  it('uses the grid’s names as they are without a namespace', () => {
    const topology = new Topology();
    expect(topology.eventsStream).toBe('MYCELIUM_EVENTS');
    expect(topology.deadLetterStream).toBe('MYCELIUM_DLQ');
    expect(topology.eventSubject('billing/account/7', 'mycelium.billing.credits-reserved.v1')).toBe('evt.billing.account.credits-reserved');
    expect(topology.commandSubject('spores', 'nodes.query')).toBe('cmd.spores.nodes.query');
    expect(topology.deadLetterSubject('healing')).toBe('dlq.healing');
  });

  it('prefixes every subject and stream in a namespace, and strips the prefix back', () => {
    const topology = new Topology('staging-2');
    expect(topology.eventsStream).toBe('STAGING_2_MYCELIUM_EVENTS');
    expect(topology.subject('evt.>')).toBe('staging-2.evt.>');
    expect(topology.unprefixed('staging-2.cmd.spores.nodes.query')).toBe('cmd.spores.nodes.query');
    expect(topology.durableName('deployment-evt.spores.>')).toBe('staging-2_deployment-evt_spores__');
  });

  it('refuses a namespace that would break subjects', () => {
    expect(() => new Topology('a.b')).toThrow(/namespace/);
  });
});
