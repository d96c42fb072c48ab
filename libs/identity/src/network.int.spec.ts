import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initNetwork, loadNetwork, NetworkExistsError } from './network.js';

describe('networks', () => {
  it('keeps its private keys readable by the owner only, and refuses to overwrite a network', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'network-')), 'network');
    const created = await initNetwork(dir, { secured: true });
    expect(statSync(join(dir, 'network.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nats-seeds.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'services.creds')).mode & 0o777).toBe(0o600);
    await expect(initNetwork(dir)).rejects.toBeInstanceOf(NetworkExistsError);
    const loaded = loadNetwork(dir);
    expect(loaded.info.networkId).toBe(created.info.networkId);
    expect(loaded.signer?.publicKey).toBe(created.info.publicKey);
    expect(loaded.nats?.canIssue).toBe(true);
    expect(loaded.servicesCreds).toContain('-----BEGIN NATS USER JWT-----');
  });
});
