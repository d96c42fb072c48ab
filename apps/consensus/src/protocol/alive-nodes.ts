import { Inject, Injectable } from '@nestjs/common';
import { CommandRejection, ErrorCodes, ListNodeIds } from '@mycelium/contracts';
import { COMMAND_CLIENT, type CommandClient, recently } from '@mycelium/messaging';
import { CONSENSUS_CONFIG, type ConsensusConfig } from '../consensus.config.js';

/**
 * The alive nodes as the spores service lists them, asked once for every round opened within
 * `aliveNodesMaxAgeMs`: fifty suspicions at once open fifty rounds, and one list serves them all.
 * A node that died since is at worst drawn and stays silent, which counts as abstaining.
 */
@Injectable()
export class AliveNodes {
  readonly ids: () => Promise<string[]>;

  constructor(@Inject(COMMAND_CLIENT) client: CommandClient, @Inject(CONSENSUS_CONFIG) config: ConsensusConfig) {
    this.ids = recently(config.aliveNodesMaxAgeMs, async () => {
      const reply = await client.send(ListNodeIds, { status: 'alive' });
      if (!reply.ok) throw new CommandRejection({ code: ErrorCodes.ServiceUnavailable, message: `cannot list the alive nodes: ${reply.error.message}` });
      return reply.result.nodeIds;
    });
  }
}
