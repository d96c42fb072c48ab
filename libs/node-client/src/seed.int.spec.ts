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

  it('refuses a snapshot older than the maximum age (24 h unless told otherwise)', async () => {
    const dayAndMinuteAgo = new Date(Date.now() - 24 * 3_600_000 - 60_000).toISOString();
    const stale = write('stale.json', sealEnvelope(networkKey, { ...snapshot, issuedAt: dayAndMinuteAgo }));
    await expect(readSeedSnapshot(stale, network)).rejects.toMatchObject({ code: 'STALE', message: expect.stringContaining(`issued at ${dayAndMinuteAgo}, more than 24 h ago`) });
    expect((await readSeedSnapshot(stale, network, { maxAgeMs: 48 * 3_600_000 })).issuedAt).toBe(dayAndMinuteAgo);
    const hourAgo = write('hour.json', sealEnvelope(networkKey, { ...snapshot, issuedAt: new Date(Date.now() - 3_600_000).toISOString() }));
    await expect(readSeedSnapshot(hourAgo, network, { maxAgeMs: 30 * 60_000 })).rejects.toMatchObject({ code: 'STALE', message: expect.stringContaining('more than 30 min ago') });
  });

  it('reads no more than the size cap, from a file or a URL', async () => {
    const envelope = sealEnvelope(networkKey, snapshot);
    const padded = `${JSON.stringify(envelope)}${' '.repeat(8 * 1024 * 1024)}`;
    const big = join(dir, 'big.json');
    writeFileSync(big, padded);
    await expect(readSeedSnapshot(big, network)).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await expect(readSeedSnapshot(write('small.json', envelope), network, { maxBytes: 100 })).rejects.toMatchObject({ code: 'TOO_LARGE' });
    // A server that streams without saying how much, and one that says too much up front.
    const server = createServer((request, response) => {
      if (request.url === '/declared') response.writeHead(200, { 'content-length': String(Buffer.byteLength(padded)) });
      else response.writeHead(200, { 'transfer-encoding': 'chunked' });
      response.end(padded);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await expect(readSeedSnapshot(`${base}/streamed`, network)).rejects.toMatchObject({ code: 'TOO_LARGE' });
      await expect(readSeedSnapshot(`${base}/declared`, network)).rejects.toMatchObject({ code: 'TOO_LARGE' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('says when there is nothing to read', async () => {
    await expect(readSeedSnapshot(join(dir, 'missing.json'), network)).rejects.toMatchObject({ code: 'UNREADABLE', message: expect.stringContaining('missing.json') });
  });
});
