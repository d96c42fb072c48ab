import type { Command } from 'commander';
import { DEFAULT_HISTORY_LIMIT, GetNode, MAX_HISTORY_LIMIT, type NodeView, QueryNodes, type QueryNodesV1 } from '@mycelium/contracts';
import { connectToGrid } from '../context.js';
import { table } from '../output.js';


const gib = (mib: number) => `${(mib / 1024).toFixed(1)}G`;

function summary(nodes: NodeView[]): string {
  return table([
    ['ID', 'TIER', 'STATUS', 'UPTIME 24H', 'FREE CPU', 'FREE MEM', 'FREE DISK', 'REGION', 'TRUST'],
    ...nodes.map((node) => [
      node.nodeId,
      node.tier,
      node.status,
      `${node.uptime.last24h.toFixed(1)}%`,
      String(node.free.cpuCores),
      gib(node.free.memoryMiB),
      `${node.free.diskGiB}G`,
      node.region,
      node.trust.toFixed(2),
    ]),
  ]);
}

export function defineNodesCommand(program: Command): void {
  const nodes = program
    .command('nodes')
    .description('list the grid’s nodes (the primary spore)')
    .option('--status <status>', 'alive, late, suspected, down or left')
    .option('--tier <tier>', 'sclerotia, rhizomorph or hyphae')
    .option('--region <region>')
    .option('--json', 'print the nodes as JSON')
    .action(async (options: { status?: string; tier?: string; region?: string; json?: boolean }) => {
      const grid = await connectToGrid().catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
      try {
        const filters = { ...(options.status ? { status: options.status } : {}), ...(options.tier ? { tier: options.tier } : {}), ...(options.region ? { region: options.region } : {}) };
        const reply = await grid.client.send(QueryNodes, filters as QueryNodesV1);
        if (!reply.ok) return program.error(`myc: ${reply.error.message}${reply.error.field ? ` (${reply.error.field})` : ''}`);
        if (options.json) process.stdout.write(`${JSON.stringify(reply.result.nodes, null, 2)}\n`);
        else process.stdout.write(reply.result.total === 0 ? 'no nodes yet: `myc node token` lets one join\n' : `${summary(reply.result.nodes)}\n`);
      } finally {
        await grid.close();
      }
    });

  nodes
    .command('show <id>')
    .description('one node and its most recent events (an id prefix will do)')
    .option('--history <n>', `how many of the newest events to show, 1 to ${MAX_HISTORY_LIMIT}`, String(DEFAULT_HISTORY_LIMIT))
    .option('--json', 'print the node and its events as JSON')
    .action(async (id: string, _options: unknown, command: Command) => {
      // `nodes` has a --json of its own, which takes the flag wherever it is given: ask both.
      const options = command.optsWithGlobals<{ history: string; json?: boolean }>();
      const historyLimit = Number(options.history);
      if (!Number.isInteger(historyLimit) || historyLimit < 1 || historyLimit > MAX_HISTORY_LIMIT) {
        return program.error(`myc: --history must be a whole number from 1 to ${MAX_HISTORY_LIMIT}, not ${options.history}`);
      }
      const grid = await connectToGrid().catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
      try {
        let nodeId = id;
        if (!/^[0-9a-f]{20}$/.test(id)) {
          const all = await grid.client.send(QueryNodes, { limit: 10_000 });
          const matches = all.ok ? all.result.nodes.filter((node) => node.nodeId.startsWith(id)) : [];
          if (matches.length !== 1) return program.error(`myc: ${matches.length === 0 ? `no node id starts with ${id}` : `${id} matches ${matches.length} nodes: give more of the id`}`);
          nodeId = matches[0]!.nodeId;
        }
        const reply = await grid.client.send(GetNode, { nodeId, history: true, historyLimit });
        if (!reply.ok) return program.error(`myc: ${reply.error.message}`);
        const { node, history = [], historyTotal = history.length, historyTruncated = false } = reply.result;
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ node, history, historyTotal, historyTruncated }, null, 2)}\n`);
          return;
        }
        const more =
          historyLimit < MAX_HISTORY_LIMIT && history.length === historyLimit ? `; --history ${Math.min(historyTotal, MAX_HISTORY_LIMIT)} shows more` : '';
        process.stdout.write(
          [
            summary([node]),
            '',
            `joined ${node.joinedAt}${node.lastSeenAt ? `, last heard ${node.lastSeenAt}` : ''}; ${node.capabilities.cpuCores} cores, ${gib(node.capabilities.memoryMiB)} memory, ${node.capabilities.diskGiB}G disk; agent ${node.capabilities.agentVersion}; uptime 30 d ${node.uptime.last30d.toFixed(1)}%`,
            '',
            historyTruncated ? `history (the newest ${history.length} of ${historyTotal} events${more}):` : 'history:',
            ...history.map((entry) => {
              const { nodeId: _id, at: _at, ...details } = entry.data as Record<string, unknown>;
              const name = entry.type.replace(/^mycelium\.spores\./, '').replace(/\.v\d+$/, '');
              const shown = name === 'node-joined' ? { tier: details.tier, maxTier: details.maxTier } : details;
              return `  ${entry.at}  ${name.padEnd(26)} ${JSON.stringify(shown)}`;
            }),
            '',
          ].join('\n'),
        );
      } finally {
        await grid.close();
      }
    });
}
