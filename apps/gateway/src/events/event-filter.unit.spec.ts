import { describe, expect, it } from 'vitest';
import { matches, parseFilter, parseResume, type PublicEvent } from './event-filter.js';

const event = (overrides: Partial<PublicEvent> = {}): PublicEvent => ({ id: '01890a5d-ac96-774b-bcce-b302099a8058', position: 10n, type: 'mycelium.deployment.app-scaled.v1', subject: 'deployment/app/app_1', json: '{}', ...overrides });

describe('what a subscriber is sent', () => {
  it('keeps a tenant to its own events: one that names no tenant is the operators’', () => {
    const tenant = parseFilter({}, 'acme');
    expect(matches(tenant, event({ tenant: 'acme' }))).toBe(true);
    expect(matches(tenant, event({ tenant: 'other' }))).toBe(false);
    expect(matches(tenant, event())).toBe(false);
    expect(matches(parseFilter({}, undefined), event())).toBe(true);
  });

  it('takes type prefixes comma-separated or repeated, and a subject prefix', () => {
    const filter = parseFilter({ type: ['mycelium.healing.', 'mycelium.deployment.app-scaled,mycelium.spores.'], subject: 'deployment/' }, undefined);
    expect(filter.types).toEqual(['mycelium.healing.', 'mycelium.deployment.app-scaled', 'mycelium.spores.']);
    expect(matches(filter, event())).toBe(true);
    expect(matches(filter, event({ subject: 'billing/account/acme' }))).toBe(false);
    expect(matches(filter, event({ type: 'mycelium.deployment.app-deployed.v1' }))).toBe(false);
  });

  it('refuses what is not a type prefix or a subject, naming the field', () => {
    expect(() => parseFilter({ type: 'Mycelium Deployment' }, undefined)).toThrow(expect.objectContaining({ field: 'type' }));
    expect(() => parseFilter({ subject: 'a b' }, undefined)).toThrow(expect.objectContaining({ field: 'subject' }));
    expect(() => parseFilter({ type: Array.from({ length: 21 }, (_, i) => `t${i}.`) }, undefined)).toThrow(expect.objectContaining({ field: 'type' }));
  });

  it('resumes after Last-Event-ID first, else since a position or a time', () => {
    expect(parseResume('42', '7')).toEqual({ after: 42n });
    expect(parseResume(undefined, '7')).toEqual({ after: 7n });
    expect(parseResume(undefined, '2026-12-03T10:00:00Z')).toEqual({ since: new Date('2026-12-03T10:00:00Z') });
    expect(parseResume(undefined, undefined)).toBeUndefined();
    expect(() => parseResume('abc', undefined)).toThrow(expect.objectContaining({ field: 'Last-Event-ID' }));
    expect(() => parseResume(undefined, 'yesterday')).toThrow(expect.objectContaining({ field: 'since' }));
  });
});
