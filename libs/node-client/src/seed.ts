import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SeedSnapshotV1 } from '@mycelium/contracts';
import { IdentityRejection, openEnvelope } from '@mycelium/identity';

/** A seed snapshot that cannot be used, and why. */
export class SeedRejected extends Error {
  constructor(
    readonly code: 'UNREADABLE' | 'TOO_LARGE' | 'BAD_SIGNATURE' | 'WRONG_NETWORK' | 'MALFORMED' | 'STALE',
    message: string,
  ) {
    super(message);
    this.name = 'SeedRejected';
  }
}

export interface SeedReadOptions {
  /** How old a snapshot may be; an older one describes a grid that may be long gone. Default 24 h. */
  maxAgeMs?: number;
  /** Bytes read at most, from a file or a URL. Default 8 MiB. */
  maxBytes?: number;
  now?: number;
}

export const SEED_MAX_AGE_MS = 24 * 60 * 60 * 1000;
const SEED_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Reads the seed spore from a file or an HTTP URL and checks that the network signed it, recently:
 * a node that boots from it trusts nothing in it otherwise.
 */
export async function readSeedSnapshot(source: string, network: { id: string; publicKey: string }, options: SeedReadOptions = {}): Promise<SeedSnapshotV1> {
  const maxAgeMs = options.maxAgeMs ?? SEED_MAX_AGE_MS;
  const text = await readSource(source, options.maxBytes ?? SEED_MAX_BYTES);
  let snapshot: SeedSnapshotV1;
  try {
    snapshot = openEnvelope<SeedSnapshotV1>(JSON.parse(text), network.publicKey);
  } catch (error) {
    if (error instanceof IdentityRejection && error.code === 'BAD_SIGNATURE') {
      throw new SeedRejected('BAD_SIGNATURE', `the seed snapshot at ${source} is not signed by network ${network.id}: it was altered or is not this network's`);
    }
    throw new SeedRejected('MALFORMED', `the seed snapshot at ${source} is not a signed snapshot`);
  }
  if (snapshot.kind !== 'seed-snapshot' || !Array.isArray(snapshot.nodes) || !Array.isArray(snapshot.natsServers)) {
    throw new SeedRejected('MALFORMED', `the seed snapshot at ${source} lacks its nodes or NATS servers`);
  }
  if (snapshot.network !== network.id) throw new SeedRejected('WRONG_NETWORK', `the seed snapshot is for network ${snapshot.network}, not ${network.id}`);
  const issuedAt = Date.parse(snapshot.issuedAt);
  if (!Number.isFinite(issuedAt)) throw new SeedRejected('MALFORMED', `the seed snapshot at ${source} has no issue time`);
  if ((options.now ?? Date.now()) - issuedAt > maxAgeMs) {
    throw new SeedRejected(
      'STALE',
      `the seed snapshot at ${source} was issued at ${snapshot.issuedAt}, more than ${formatAge(maxAgeMs)} ago: point --seed at a fresh one (the spores service writes one on every change), or allow older ones with --seed-max-age`,
    );
  }
  return snapshot;
}

/** The text at a path, file:// or http(s):// URL, refusing more than `maxBytes`. */
async function readSource(source: string, maxBytes: number): Promise<string> {
  try {
    if (/^https?:\/\//.test(source)) {
      const response = await fetch(source, { signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`${source} answered ${response.status}`);
      if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
        await response.body?.cancel();
        throw tooLarge(source, maxBytes);
      }
      return response.body ? await readLimited(response.body, source, maxBytes) : '';
    }
    return await readLimited(createReadStream(source.startsWith('file://') ? fileURLToPath(source) : source), source, maxBytes);
  } catch (error) {
    if (error instanceof SeedRejected) throw error;
    throw new SeedRejected('UNREADABLE', `cannot read the seed snapshot at ${source}: ${(error as Error).message}`);
  }
}

async function readLimited(stream: AsyncIterable<Uint8Array>, source: string, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    // Leaving the loop early closes the file or cancels the download.
    if (size > maxBytes) throw tooLarge(source, maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(source: string, maxBytes: number): SeedRejected {
  return new SeedRejected('TOO_LARGE', `the seed snapshot at ${source} is larger than ${maxBytes} bytes: that is not a snapshot this network wrote`);
}

function formatAge(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}
