import type { Command } from 'commander';
import { GetNode, type NodeView, QueryNodes, type QueryNodesV1 } from '@mycelium/contracts';
import { connectToGrid } from '../context.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

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
    .description('one node and its history (an id prefix will do)')
    .option('--json', 'print the node and its events as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const grid = await connectToGrid().catch((error: unknown) => program.error(`myc: ${(error as Error).message}`));
      try {
        let nodeId = id;
        if (!/^[0-9a-f]{20}$/.test(id)) {
          const all = await grid.client.send(QueryNodes, { limit: 10_000 });
          const matches = all.ok ? all.result.nodes.filter((node) => node.nodeId.startsWith(id)) : [];
          if (matches.length !== 1) return program.error(`myc: ${matches.length === 0 ? `no node id starts with ${id}` : `${id} matches ${matches.length} nodes: give more of the id`}`);
          nodeId = matches[0]!.nodeId;
        }
        const reply = await grid.client.send(GetNode, { nodeId, history: true });
        if (!reply.ok) return program.error(`myc: ${reply.error.message}`);
        const { node, history = [] } = reply.result;
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ node, history }, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          [
            summary([node]),
            '',
            `joined ${node.joinedAt}${node.lastSeenAt ? `, last heard ${node.lastSeenAt}` : ''}; ${node.capabilities.cpuCores} cores, ${gib(node.capabilities.memoryMiB)} memory, ${node.capabilities.diskGiB}G disk; agent ${node.capabilities.agentVersion}; uptime 30 d ${node.uptime.last30d.toFixed(1)}%`,
            '',
            'history:',
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
