import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { bootstrapPermissions, isNodeTier, issueJoinToken, type NodeTier } from '@mycelium/identity';
import { natsTarget, parseDuration, readNetwork } from '../context.js';

export function defineNodeCommand(program: Command): void {
  const node = program.command('node').description('nodes joining this network');
  node
    .command('token')
    .description('issue a join token signed by the network key (print it; give it to the node’s owner)')
    .requiredOption('--tier <tier>', 'the highest tier the node may hold: sclerotia, rhizomorph or hyphae')
    .option('--ttl <duration>', 'how long the token is valid, e.g. 30m, 24h, 7d', '24h')
    .option('--nats <url>', 'NATS server the node should use (default: the local grid’s, or NATS_URL)')
    .option('--json', 'print the token and its claims as JSON')
    .action(async (options: { tier: string; ttl: string; nats?: string; json?: boolean }) => {
      if (!isNodeTier(options.tier)) program.error('myc: --tier must be sclerotia, rhizomorph or hyphae');
      let ttlSeconds: number;
      try {
        ttlSeconds = parseDuration(options.ttl);
      } catch (error) {
        return program.error(`myc: --ttl: ${(error as Error).message}`);
      }
      const network = readNetwork();
      if (!network?.signer) return program.error('myc: no network key here: run `myc network init` (or set MYCELIUM_HOME to the grid’s directory)');
      const target = natsTarget();
      const servers = [options.nats ?? target.url];
      const id = randomUUID();
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      // On a secured network the token carries NATS credentials that only let the node ask to join.
      const creds = network.nats?.canIssue
        ? await network.nats.issueCreds(`join-${id}`, {
            permissions: bootstrapPermissions(id, target.namespace ? `${target.namespace}.` : ''),
            expiresAt: new Date(expiresAt.getTime() + 10 * 60 * 1000),
          })
        : undefined;
      const { token, claims } = issueJoinToken(network.signer, {
        tier: options.tier as NodeTier,
        ttlSeconds,
        id,
        nats: { servers, ...(creds ? { creds } : {}), ...(target.namespace ? { namespace: target.namespace } : {}) },
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ token, network: claims.iss, tier: claims.tier, expiresAt: expiresAt.toISOString(), nats: servers })}\n`);
      } else {
        process.stderr.write(`join token for network ${claims.iss}, tier up to ${claims.tier}, valid until ${expiresAt.toISOString()}:\n`);
        process.stdout.write(`${token}\n`);
        process.stderr.write('on the node: myc agent --data-dir /var/lib/mycelium --token <token>\n');
      }
    });
}
