import type { PeerRecord } from './agent-protocol.v1.js';

/**
 * The seed spore: a signed snapshot of the directory, written on every change so a node that
 * cannot reach NATS can still find the grid. The file holds `{ payload, sig }` with the network key's
 * signature over the payload (a SeedSnapshotV1 as JSON).
 */
export interface SeedSnapshotV1 {
  kind: 'seed-snapshot';
  version: 1;
  network: string;
  /** The log position the snapshot reflects: a newer snapshot has a higher one. */
  position: string;
  issuedAt: string;
  natsServers: string[];
  nodes: PeerRecord[];
}
