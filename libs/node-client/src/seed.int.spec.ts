import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyMaterial, networkIdOf, sealEnvelope, Signer } from '@mycelium/identity';
import { describe, expect, it } from 'vitest';
import { readSeedSnapshot } from './seed.js';

const networkKey = Signer.fromPem(generateKeyMaterial().privateKeyPem);
const network = { id: networkIdOf(networkKey.publicKey), publicKey: networkKey.publicKey };
const snapshot = {
  kind: 'seed-snapshot',
  version: 1,
  network: network.id,
  position: '42',
  issuedAt: new Date().toISOString(),
  natsServers: ['nats://127.0.0.1:4222'],
  nodes: [{ nodeId: '0123456789abcdef0123', publicKey: 'A'.repeat(43), status: 'alive', version: 1 }],
};

describe('seed spore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seed-'));
  const write = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(content));
    return path;
  };

  it('reads a snapshot the network signed, from a file and from an HTTP URL', async () => {
    const envelope = sealEnvelope(networkKey, snapshot);
    expect(await readSeedSnapshot(write('good.json', envelope), network)).toEqual(snapshot);
    const server = createServer((_request, response) => response.end(JSON.stringify(envelope)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect(await readSeedSnapshot(`http://127.0.0.1:${(server.address() as AddressInfo).port}/seed.json`, network)).toEqual(snapshot);
    } finally {
      server.close();
    }
  });

  it('refuses a snapshot someone else signed, or one that was changed', async () => {
    const foreign = sealEnvelope(Signer.fromPem(generateKeyMaterial().privateKeyPem), snapshot);
    await expect(readSeedSnapshot(write('foreign.json', foreign), network)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    const signed = sealEnvelope(networkKey, snapshot);
    const changed = { ...signed, payload: Buffer.from(JSON.stringify({ ...snapshot, natsServers: ['nats://evil:4222'] })).toString('base64url') };
    await expect(readSeedSnapshot(write('changed.json', changed), network)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
  });

  it('says when there is nothing to read', async () => {
    await expect(readSeedSnapshot(join(dir, 'missing.json'), network)).rejects.toMatchObject({ code: 'UNREADABLE', message: expect.stringContaining('missing.json') });
  });
});
