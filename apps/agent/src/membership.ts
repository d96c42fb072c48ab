import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeTierName } from '@mycelium/contracts';
import { type SignedEnvelope, writeSecretFile } from '@mycelium/identity';

/** What a node remembers of the grid it joined, so it can come back without a token. */
export interface Membership {
  network: string;
  networkKey: string;
  natsServers: string[];
  namespace: string;
  /** Its NATS user JWT (secured networks). */
  natsJwt?: string;
  /**
   * The network's certificate of the node's key, from its last join: kept so that after a restart
   * it gossips with its peers even while the spores service is unreachable.
   */
  certificate?: SignedEnvelope;
  tier: NodeTierName;
  joinedAt: string;
}

const FILE = 'membership.json';

export function readMembership(dataDir: string): Membership | undefined {
  const file = join(dataDir, FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Membership) : undefined;
}

export function writeMembership(dataDir: string, membership: Membership): void {
  writeSecretFile(join(dataDir, FILE), `${JSON.stringify(membership, null, 2)}\n`);
}
