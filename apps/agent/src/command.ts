import { type Command, InvalidArgumentError, Option } from 'commander';
import { isNodeTier } from '@mycelium/identity';
import type { NodeTierName } from '@mycelium/contracts';
import { createLogger } from '@mycelium/telemetry/logger';
import { Agent, AgentError } from './agent.js';

const integer = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return parsed;
};

interface AgentCommandOptions {
  dataDir: string;
  token?: string;
  nats?: string;
  seed?: string;
  tier?: string;
  region: string;
  tags: string;
  cpu?: number;
  memoryMib?: number;
  diskGib?: number;
  heartbeatMs?: number;
  gossipHost: string;
  gossipPort: number;
}

/** Adds the agent's options and action to `command` (both `myc agent` and the agent's own binary). */
export function defineAgentCommand(command: Command): Command {
  return command
    .description('run a node agent: join the grid with this machine, heartbeat, gossip; SIGTERM leaves cleanly')
    .requiredOption('--data-dir <dir>', 'where the node keeps its keys and membership')
    .addOption(new Option('--token <token>', 'join token from `myc node token` (not needed to rejoin)').env('MYCELIUM_JOIN_TOKEN'))
    .addOption(new Option('--nats <url>', 'NATS server, instead of the token’s').env('NATS_URL'))
    .option('--seed <file-or-url>', 'seed snapshot to boot from when NATS cannot be reached')
    .option('--tier <tier>', 'the tier to ask for: sclerotia, rhizomorph or hyphae (default: what the token allows)')
    .addOption(new Option('--region <region>', 'region label').env('MYCELIUM_REGION').default('local'))
    .option('--tags <tags>', 'comma-separated labels', '')
    .option('--cpu <cores>', 'cpu cores to offer (default: all)', integer('--cpu'))
    .option('--memory-mib <mib>', 'memory to offer (default: all)', integer('--memory-mib'))
    .option('--disk-gib <gib>', 'disk to offer (default: the data dir’s file system)', integer('--disk-gib'))
    .option('--heartbeat-ms <ms>', 'heartbeat interval (default: what the grid asks)', integer('--heartbeat-ms'))
    .option('--gossip-host <host>', 'interface for gossip with peers', '127.0.0.1')
    .option('--gossip-port <port>', 'port for gossip with peers (0: any free)', integer('--gossip-port'), 0)
    .action(async (options: AgentCommandOptions) => {
      const logger = createLogger({ name: 'agent' });
      if (options.tier !== undefined && !isNodeTier(options.tier)) command.error('myc: --tier must be sclerotia, rhizomorph or hyphae');
      let agent: Agent;
      try {
        agent = new Agent(
          {
            dataDir: options.dataDir,
            token: options.token || undefined,
            natsUrl: options.nats || undefined,
            seed: options.seed,
            requestedTier: (options.tier as NodeTierName | undefined) ?? 'sclerotia',
            region: options.region,
            tags: options.tags ? options.tags.split(',').map((tag) => tag.trim()).filter(Boolean) : [],
            cpuCores: options.cpu,
            memoryMiB: options.memoryMib,
            diskGiB: options.diskGib,
            heartbeatMs: options.heartbeatMs,
            gossipHost: options.gossipHost,
            gossipPort: options.gossipPort,
          },
          logger,
        );
        await agent.start();
      } catch (error) {
        const message = error instanceof AgentError ? error.message : `the agent failed to start: ${(error as Error).message}`;
        logger.fatal({ err: error }, message);
        process.stderr.write(`agent: ${message}\n`);
        process.exit(1);
      }
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) process.exit(130);
        stopping = true;
        void agent.stop(signal).then(() => process.exit(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}
