import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { SeedSnapshotV1 } from '@mycelium/contracts';
import { IdentityRejection, openEnvelope } from '@mycelium/identity';

/** A seed snapshot that cannot be used, and why. */
export class SeedRejected extends Error {
  constructor(
    readonly code: 'UNREADABLE' | 'BAD_SIGNATURE' | 'WRONG_NETWORK' | 'MALFORMED',
    message: string,
  ) {
    super(message);
    this.name = 'SeedRejected';
  }
}

/**
 * Reads the seed spore from a file or an HTTP URL and checks that the network signed it: a node
 * that boots from it trusts nothing in it otherwise.
 */
export async function readSeedSnapshot(source: string, network: { id: string; publicKey: string }): Promise<SeedSnapshotV1> {
  let text: string;
  try {
    if (/^https?:\/\//.test(source)) {
      const response = await fetch(source, { signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`${source} answered ${response.status}`);
      text = await response.text();
    } else {
      text = await readFile(source.startsWith('file://') ? fileURLToPath(source) : source, 'utf8');
    }
  } catch (error) {
    throw new SeedRejected('UNREADABLE', `cannot read the seed snapshot at ${source}: ${(error as Error).message}`);
  }
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
  return snapshot;
}
