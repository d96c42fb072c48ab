import { describe, expect, it } from 'vitest';
import { parseCloudEvent, toCloudEvent } from './envelope.js';
import { ContractViolation } from './errors.js';
import { eventSubject } from './naming.js';

const logged = {
  id: '01890a5d-ac96-774b-bcce-b302099a8057',
  streamId: 'deployment/app/42',
  streamVersion: 3,
  position: 2n ** 60n + 1n,
  type: 'mycelium.deployment.app-deployed.v1',
  data: { name: 'web' },
  metadata: { correlationId: 'corr-1', causationId: 'cause-1', tenant: 'acme', traceparent: '00-abc-def-01', other: 'x' },
  recordedAt: new Date('2026-11-23T10:00:00.000Z'),
};

describe('CloudEvents envelope', () => {
  it('carries the log’s facts as CloudEvents attributes and extensions', () => {
    expect(toCloudEvent(logged)).toEqual({
      specversion: '1.0',
      id: logged.id,
      source: 'mycelium/deployment',
      type: 'mycelium.deployment.app-deployed.v1',
      subject: 'deployment/app/42',
      time: '2026-11-23T10:00:00.000Z',
      datacontenttype: 'application/json',
      data: { name: 'web' },
      correlationid: 'corr-1',
      causationid: 'cause-1',
      streamversion: 3,
      position: '1152921504606846977',
      tenant: 'acme',
      traceparent: '00-abc-def-01',
    });
  });

  it('parses what it writes, through JSON', () => {
    const event = toCloudEvent(logged);
    expect(parseCloudEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it.each([
    ['specversion', { specversion: '0.3' }],
    ['id', { id: '' }],
    ['id', { id: 'not-a-uuid' }],
    ['time', { time: 'yesterday' }],
    ['position', { position: 12 }],
    ['streamversion', { streamversion: 0 }],
    ['tenant', { tenant: 7 }],
  ])('names %s when it is wrong', (field, change) => {
    const event = { ...toCloudEvent(logged), ...change };
    expect(() => parseCloudEvent(event)).toThrow(ContractViolation);
    expect(() => parseCloudEvent(event)).toThrow(expect.objectContaining({ field }));
  });

  it('refuses something that is not an object', () => {
    expect(() => parseCloudEvent([1, 2])).toThrow(ContractViolation);
  });
});

describe('subjects', () => {
  it('publishes an event on evt.<service>.<aggregate>.<event>', () => {
    expect(eventSubject('deployment/app/42', 'mycelium.deployment.app-deployed.v1')).toBe('evt.deployment.app.app-deployed');
  });

  it('keeps subjects valid for streams and types outside the naming rules', () => {
    expect(eventSubject('odd.stream', 'no type.here*')).toBe('evt.odd_stream.unknown.no_type_here_');
  });
});
