import type { Command } from 'commander';
import { initNetwork, NetworkExistsError } from '@mycelium/identity';
import { networkDir } from '../context.js';

export function defineNetworkCommand(program: Command): void {
  const network = program.command('network').description('the network this grid is: its identity and keys');
  network
    .command('init')
    .description('create a network: an id, an Ed25519 network key and NATS operator credentials, under .mycelium/network (0600)')
    .option('--open', 'no NATS credentials: any client may connect (development only)')
    .option('--json', 'print the result as JSON')
    .action(async (options: { open?: boolean; json?: boolean }) => {
      const dir = networkDir();
      try {
        const created = await initNetwork(dir, { secured: !options.open });
        const result = { networkId: created.info.networkId, publicKey: created.info.publicKey, dir, secured: Boolean(created.info.nats) };
        process.stdout.write(
          options.json
            ? `${JSON.stringify(result)}\n`
            : [
                `network ${result.networkId} created in ${dir}`,
                `  public key  ${result.publicKey}`,
                `  NATS        ${result.secured ? 'operator mode: agents get credentials scoped to their own subjects' : 'open (no credentials)'}`,
                'next: `npm start` runs a grid on it; `myc node token --tier rhizomorph --ttl 24h` lets a node join',
                '',
              ].join('\n'),
        );
      } catch (error) {
        if (error instanceof NetworkExistsError) program.error(`myc: ${error.message}`);
        throw error;
      }
    });
}
