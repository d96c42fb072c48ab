import type { Command } from 'commander';
import { GetNetwork, type NetworkProposalView, type NetworkView, ProposeNetworkChange, type ProposeNetworkChangeV1 } from '@mycelium/contracts';
import { initNetwork, NetworkExistsError } from '@mycelium/identity';
import { connectToGrid, networkDir } from '../context.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function describeProposal(proposal: NetworkProposalView): string {
  const decided = proposal.status === 'proposed' ? 'waiting for the nodes' : `${proposal.status} (${proposal.outcome}) at ${proposal.decidedAt}`;
  return `${proposal.proposalId}  ${proposal.change} ${proposal.value}  round ${proposal.roundId}  ${decided}`;
}

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

  network
    .command('show')
    .description('the network-wide settings in force (minimum agent version) and the changes put to the nodes')
    .option('--json', 'print the settings as JSON')
    .action(async (options: { json?: boolean }) => {
      const grid = await connectToGrid().catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
      try {
        const reply = await grid.client.send(GetNetwork, {});
        if (!reply.ok) program.error(`myc: ${reply.error.message}`);
        const view: NetworkView = reply.result;
        process.stdout.write(
          options.json
            ? `${JSON.stringify(view)}\n`
            : [
                `network ${view.networkId}`,
                `  minimum agent version  ${view.minAgentVersion ?? 'none'}`,
                ...(view.proposals.length ? ['  proposals', ...view.proposals.map((proposal) => `    ${describeProposal(proposal)}`)] : []),
                '',
              ].join('\n'),
        );
      } finally {
        await grid.close();
      }
    });

  network
    .command('propose')
    .description('put a network-wide change to the nodes: it applies only if their consensus round approves it')
    .argument('<change>', 'min-agent-version')
    .argument('<value>', 'e.g. 0.2.0: agents older than this may no longer join')
    .option('--reason <text>', 'why, for the record')
    .option('--commit-ms <ms>', 'how long the nodes have to commit', (value) => Number(value))
    .option('--reveal-ms <ms>', 'how long they then have to reveal', (value) => Number(value))
    .option('--json', 'print the decided proposal as JSON')
    .action(async (change: string, value: string, options: { reason?: string; commitMs?: number; revealMs?: number; json?: boolean }) => {
      const grid = await connectToGrid().catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
      try {
        const proposed = await grid.client.send(ProposeNetworkChange, {
          change,
          value,
          ...(options.reason ? { reason: options.reason } : {}),
          ...(options.commitMs ? { commitMs: options.commitMs } : {}),
          ...(options.revealMs ? { revealMs: options.revealMs } : {}),
        } as ProposeNetworkChangeV1);
        if (!proposed.ok) program.error(`myc: ${proposed.error.message}${proposed.error.field ? ` (${proposed.error.field})` : ''}`);
        const { proposalId, roundId, participants, revealDeadline } = proposed.result;
        if (!options.json) process.stdout.write(`${proposalId}: ${change} ${value} put to ${participants} nodes in round ${roundId}, decided by ${revealDeadline}\n`);
        // The round closes at its reveal deadline at the latest; its outcome comes through the log.
        const giveUpAt = Date.parse(revealDeadline) + 30_000;
        for (;;) {
          const reply = await grid.client.send(GetNetwork, { proposalId });
          const proposal = reply.ok ? reply.result.proposals[0] : undefined;
          if (proposal && proposal.status !== 'proposed') {
            process.stdout.write(options.json ? `${JSON.stringify(proposal)}\n` : `${describeProposal(proposal)}\n`);
            if (proposal.status !== 'approved') process.exitCode = 1;
            return;
          }
          if (Date.now() > giveUpAt) program.error(`myc: no outcome for ${proposalId} yet; see \`myc network show\``);
          await sleep(250);
        }
      } finally {
        await grid.close();
      }
    });
}
