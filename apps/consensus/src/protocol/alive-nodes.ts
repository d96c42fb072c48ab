import { Inject, Injectable } from '@nestjs/common';
import { CommandRejection, ErrorCodes, ListNodeIds } from '@mycelium/contracts';
import { nodeIdOf } from '@mycelium/identity';
import { COMMAND_CLIENT, type CommandClient, recently } from '@mycelium/messaging';
import { CONSENSUS_CONFIG, type ConsensusConfig } from '../consensus.config.js';

/**
 * The alive nodes as the spores service lists them, asked once for every round opened within
 * `aliveNodesMaxAgeMs`: fifty suspicions at once open fifty rounds, and one list serves them all.
 * A node that died since is at worst drawn and stays silent, which counts as abstaining.
 *
 * The list brings the nodes' public keys, so the votes of a committee drawn from it are checked
 * without asking the spores service about each member while fifty rounds are being voted on.
 */
@Injectable()
export class AliveNodes {
  readonly ids: () => Promise<string[]>;
  /** A node id is the hash of its key, so a key once learnt never changes. */
  readonly #keys = new Map<string, string>();

  constructor(@Inject(COMMAND_CLIENT) client: CommandClient, @Inject(CONSENSUS_CONFIG) config: ConsensusConfig) {
    this.ids = recently(config.aliveNodesMaxAgeMs, async () => {
      const reply = await client.send(ListNodeIds, { status: 'alive', withKeys: true });
      if (!reply.ok) throw new CommandRejection({ code: ErrorCodes.ServiceUnavailable, message: `cannot list the alive nodes: ${reply.error.message}` });
      for (const [nodeId, publicKey] of Object.entries(reply.result.publicKeys ?? {})) this.learnKey(nodeId, publicKey);
      return reply.result.nodeIds;
    });
  }

  keyOf(nodeId: string): string | undefined {
    return this.#keys.get(nodeId);
  }

  /** Keeps the key if it is the node's (its id is the key's hash); says whether it was. */
  learnKey(nodeId: string, publicKey: string): boolean {
    if (this.#keys.has(nodeId)) return true;
    if (nodeIdOf(publicKey) !== nodeId) return false;
    this.#keys.set(nodeId, publicKey);
    return true;
  }
}
