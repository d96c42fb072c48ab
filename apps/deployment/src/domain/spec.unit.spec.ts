import { describe, expect, it } from 'vitest';
import type { AppSpecV1 } from '@mycelium/contracts';
import { SecretBox } from '@mycelium/identity';
import { startMessage, storedSpec } from './spec.js';

const box = new SecretBox(SecretBox.generateKey());
const spec = (overrides: Partial<AppSpecV1> = {}): AppSpecV1 => ({
  name: 'hello',
  version: '1.0.0',
  replicas: 2,
  workload: { command: ['node', 'server.mjs'] },
  resources: { cpu: 0.5, memoryMiB: 128, storageGiB: 1 },
  env: [
    { name: 'GREETING', value: 'hi' },
    { name: 'TOKEN', value: 'top-secret', secret: true },
  ],
  ...overrides,
});

describe('an app spec as the log keeps it', () => {
  it('fills in defaults and seals secrets, which only the start message opens', () => {
    const stored = storedSpec(spec(), 'app_0123456789abcdef', box);
    expect(stored).toMatchObject({ strategy: 'round-robin', ports: [{ name: 'http', protocol: 'http' }], health: { path: '/healthz' }, placement: {} });
    expect(JSON.stringify(stored)).not.toContain('top-secret');
    expect(stored.env).toEqual([{ name: 'GREETING', value: 'hi' }, { name: 'TOKEN', sealed: expect.any(String) }]);
    const start = startMessage({ appId: 'app_0123456789abcdef', tenant: 'acme' }, stored, 'hello-1', box);
    expect(start.env).toEqual({ GREETING: 'hi', TOKEN: 'top-secret' });
    expect(start).toMatchObject({ replicaId: 'hello-1', tenant: 'acme', app: 'hello', command: ['node', 'server.mjs'] });
  });

  it('binds a sealed value to its app: moved to another, it does not open', () => {
    const stored = storedSpec(spec(), 'app_0123456789abcdef', box);
    expect(() => startMessage({ appId: 'app_fedcba9876543210', tenant: 'acme' }, stored, 'hello-1', box)).toThrow();
    expect(() => startMessage({ appId: 'app_0123456789abcdef', tenant: 'acme' }, stored, 'hello-1', new SecretBox(SecretBox.generateKey()))).toThrow();
  });

  it('refuses an image until a node offers a container runtime, and a spec without a command', () => {
    expect(() => storedSpec(spec({ workload: { image: 'nginx:alpine' } }), 'app_0123456789abcdef', box)).toThrow(
      expect.objectContaining({ code: 'RUNTIME_UNAVAILABLE', field: 'spec.workload.image' }),
    );
    expect(() => storedSpec(spec({ workload: {} }), 'app_0123456789abcdef', box)).toThrow(expect.objectContaining({ field: 'spec.workload.command' }));
  });

  it('refuses environment names the runtime sets, names given twice, and a timeout longer than the interval', () => {
    expect(() => storedSpec(spec({ env: [{ name: 'PORT', value: '1' }] }), 'app_0123456789abcdef', box)).toThrow(expect.objectContaining({ field: 'spec.env[0].name' }));
    expect(() => storedSpec(spec({ env: [{ name: 'MYCELIUM_X', value: '1' }] }), 'app_0123456789abcdef', box)).toThrow(/set by the runtime/);
    expect(() =>
      storedSpec(
        spec({
          env: [
            { name: 'A', value: '1' },
            { name: 'A', value: '2' },
          ],
        }),
        'app_0123456789abcdef',
        box,
      ),
    ).toThrow(expect.objectContaining({ field: 'spec.env[1].name' }));
    expect(() => storedSpec(spec({ health: { path: '/h', intervalMs: 500, timeoutMs: 1000, failureThreshold: 3, startTimeoutMs: 5000 } }), 'app_0123456789abcdef', box)).toThrow(
      expect.objectContaining({ field: 'spec.health.timeoutMs' }),
    );
  });

  it('needs a 32-byte key', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
