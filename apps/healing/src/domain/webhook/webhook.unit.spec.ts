import { describe, expect, it } from 'vitest';
import { signBody } from '@mycelium/messaging';
import { SecretBox } from '@mycelium/identity';
import { type WebhookCommand, webhookDecider } from './webhook.js';

const T0 = '2030-01-01T00:00:00.000Z';
const set: WebhookCommand = { type: 'SetWebhook', tenant: 'acme', url: 'http://127.0.0.1:1/hook', sealedSecret: 'sealed', at: T0 };
const alert: WebhookCommand = { type: 'RequestAlert', tenant: 'acme', alertId: 'e-1', incidentId: 'inc_00000000000000000000', kind: 'incident.opened', body: { a: 1 }, at: T0 };
const delivered: WebhookCommand = { type: 'RecordDelivered', alertId: 'e-1', attempts: 2, status: 204, at: T0 };

function given(...commands: WebhookCommand[]) {
  const state = commands.reduce((current, command) => webhookDecider.decide(command, current).reduce(webhookDecider.evolve, current), webhookDecider.initialState());
  return { state, when: (command: WebhookCommand) => webhookDecider.decide(command, state).map((event) => event.type.replace(/^mycelium\.healing\./, '').replace(/\.v\d+$/, '')) };
}

describe('when a tenant has a webhook', () => {
  it('requests one alert per incident event, however often it is seen', () => {
    expect(given(set).when(alert)).toEqual(['alert-requested']);
    expect(given(set, alert).when(alert)).toEqual([]);
    expect(given(set, alert, delivered).when(alert)).toEqual([]);
  });

  it('settles a pending alert once, delivered or failed', () => {
    expect(given(set, alert).when(delivered)).toEqual(['alert-delivered']);
    expect(given(set, alert, delivered).when(delivered)).toEqual([]);
    expect(given(set, alert, delivered).when({ type: 'RecordFailed', alertId: 'e-1', attempts: 5, error: 'HTTP 500', at: T0 })).toEqual([]);
    expect(given(set, alert, delivered).state.pending).toEqual([]);
  });
});

describe('when a tenant has no webhook', () => {
  it('records no alert', () => {
    expect(given().when(alert)).toEqual([]);
  });
});

describe('webhook secrets and signatures', () => {
  it('seals a secret so only the same key and tenant open it', () => {
    const box = new SecretBox(SecretBox.generateKey());
    const sealed = box.seal('s3cret-value', 'webhook:acme');
    expect(sealed).not.toContain('s3cret');
    expect(box.open(sealed, 'webhook:acme')).toBe('s3cret-value');
    expect(() => box.open(sealed, 'webhook:other')).toThrow();
    expect(() => new SecretBox(SecretBox.generateKey()).open(sealed, 'webhook:acme')).toThrow();
  });

  it('signs the body as sha256=<hex HMAC>', () => {
    // RFC 4231 test case 2.
    expect(signBody('what do ya want for nothing?', 'Jefe')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
