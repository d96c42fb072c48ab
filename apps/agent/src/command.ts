import { type Command, InvalidArgumentError, Option } from 'commander';
import { isNodeTier } from '@mycelium/identity';
import type { NodeTierName } from '@mycelium/contracts';
import { isGossipAddress } from '@mycelium/contracts/agent';
import { createLogger } from '@mycelium/telemetry/logger';
import { Agent, AgentError } from './agent.js';

const integer = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return parsed;
};

const gossipAddress = (value: string) => {
  if (!isGossipAddress(value)) throw new InvalidArgumentError('--gossip-advertise must be an http(s) URL of at most 200 characters, without credentials, query or fragment, e.g. http://203.0.113.7:7946');
  return value;
};

const reportInterval = (value: string) => {
  const ms = integer('--workload-report-ms')(value);
  if (ms < 100) throw new InvalidArgumentError('--workload-report-ms must be at least 100');
  return ms;
};

/** `30m`, `24h`, `7d` in ms. */
const duration = (name: string) => (value: string) => {
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`${name} must be a number with s, m, h or d, e.g. 24h`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
};

interface AgentCommandOptions {
  dataDir: string;
  token?: string;
  nats?: string;
  seed?: string;
  seedMaxAge?: number;
  tier?: string;
  region: string;
  tags: string;
  cpu?: number;
  memoryMib?: number;
  diskGib?: number;
  heartbeatMs?: number;
  gossipHost: string;
  gossipPort: number;
  gossipAdvertise?: string;
  workloadHost: string;
  workloadReportMs?: number;
}

/** Adds the agent's options and action to `command` (both `myc agent` and the agent's own binary). */
export function defineAgentCommand(command: Command): Command {
  return command
    .description('run a node agent: join the grid with this machine, heartbeat, gossip, run the replicas the grid sends; SIGTERM stops them and leaves cleanly')
    .requiredOption('--data-dir <dir>', 'where the node keeps its keys and membership')
    .addOption(
      new Option('--token <token>', 'join token from `myc node token` (not needed to rejoin); prefer MYCELIUM_JOIN_TOKEN: a command line is visible to every user of the machine').env(
        'MYCELIUM_JOIN_TOKEN',
      ),
    )
    .addOption(new Option('--nats <url>', 'NATS server, instead of the token’s').env('NATS_URL'))
    .option('--seed <file-or-url>', 'seed snapshot to boot from when NATS cannot be reached')
    .option('--seed-max-age <duration>', 'refuse a seed snapshot older than this, e.g. 30m, 24h, 7d (default: 24h)', duration('--seed-max-age'))
    .option('--tier <tier>', 'the tier to ask for: sclerotia, rhizomorph or hyphae (default: what the token allows)')
    .addOption(new Option('--region <region>', 'region label').env('MYCELIUM_REGION').default('local'))
    .option('--tags <tags>', 'comma-separated labels', '')
    .option('--cpu <cores>', 'cpu cores to offer (default: all)', integer('--cpu'))
    .option('--memory-mib <mib>', 'memory to offer (default: all)', integer('--memory-mib'))
    .option('--disk-gib <gib>', 'disk to offer (default: the data dir’s file system)', integer('--disk-gib'))
    .option('--heartbeat-ms <ms>', 'heartbeat interval (default: what the grid asks)', integer('--heartbeat-ms'))
    .option('--gossip-host <host>', 'interface for gossip with peers', '127.0.0.1')
    .option('--gossip-port <port>', 'port for gossip with peers (0: any free)', integer('--gossip-port'), 0)
    .option('--gossip-advertise <url>', 'the gossip address peers are told, when they cannot reach the bound one (NAT, proxy, 0.0.0.0) (default: http://<gossip-host>:<gossip-port>)', gossipAddress)
    .option('--workload-host <host>', 'the host in the addresses of the replicas this node runs, as the grid reaches them', '127.0.0.1')
    .option('--workload-report-ms <ms>', 'how often to report the replicas this node runs, besides at every change (default: 2000)', reportInterval)
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
            seedMaxAgeMs: options.seedMaxAge,
            requestedTier: (options.tier as NodeTierName | undefined) ?? 'sclerotia',
            region: options.region,
            tags: options.tags ? options.tags.split(',').map((tag) => tag.trim()).filter(Boolean) : [],
            cpuCores: options.cpu,
            memoryMiB: options.memoryMib,
            diskGiB: options.diskGib,
            heartbeatMs: options.heartbeatMs,
            gossipHost: options.gossipHost,
            gossipPort: options.gossipPort,
            gossipAdvertise: options.gossipAdvertise,
            workloadHost: options.workloadHost,
            reportIntervalMs: options.workloadReportMs,
            onFatal: (error) => {
              process.stderr.write(`agent: ${error.message}\n`);
              process.exit(1);
            },
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
