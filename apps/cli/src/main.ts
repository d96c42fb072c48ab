#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { defineAgentCommand } from '@mycelium/agent';
import { defineAppsCommands } from './commands/apps.command.js';
import { defineCreditsCommand } from './commands/credits.command.js';
import { defineEventsCommands } from './commands/events.command.js';
import { defineHistoryCommands } from './commands/history.command.js';
import { defineProjectionsCommands } from './commands/projections.command.js';
import { defineKeysCommand } from './commands/keys.command.js';
import { defineNetworkCommand } from './commands/network.command.js';
import { defineNodeCommand } from './commands/node-token.command.js';
import { defineNodesCommand } from './commands/nodes.command.js';
import { up } from './up/up.command.js';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_000) throw new InvalidArgumentError('expected a port number (0 for any free ports)');
  return parsed;
}

function portFromEnvironment(): number {
  try {
    return port(process.env.MYCELIUM_PORT_BASE || '8100');
  } catch {
    return program.error(`myc: MYCELIUM_PORT_BASE=${process.env.MYCELIUM_PORT_BASE} is not a port number`);
  }
}

const program = new Command('myc')
  .description('Mycelium: a self-healing compute grid. Run a local grid and drive it.')
  .version('0.1.0');

program
  .command('up')
  .description('start the whole grid on this machine: NATS, the event store, the six services and local node agents; Ctrl-C stops it')
  .option('--port-base <port>', 'services listen on port-base+1 … +6; 0 picks free ports (env MYCELIUM_PORT_BASE)', port)
  .option('--log-format <format>', 'human: warnings and errors only, full JSON logs in the log file; json: every line', 'human')
  .option('--nodes <n>', 'local node agents to start, each with its own data dir', (value) => Number.parseInt(value, 10), 3)
  .action(async (options: { portBase?: number; logFormat: string; nodes: number }) => {
    if (options.logFormat !== 'human' && options.logFormat !== 'json') program.error('myc: --log-format must be human or json');
    if (!Number.isInteger(options.nodes) || options.nodes < 0) program.error('myc: --nodes must be a whole number');
    await up({ portBase: options.portBase ?? portFromEnvironment(), logFormat: options.logFormat as 'human' | 'json', nodes: options.nodes });
  });

defineNetworkCommand(program);
defineNodeCommand(program);
defineAgentCommand(program.command('agent'));
defineNodesCommand(program);
defineAppsCommands(program);
defineCreditsCommand(program);
defineKeysCommand(program);
defineEventsCommands(program);
defineHistoryCommands(program);
defineProjectionsCommands(program);

await program.parseAsync(process.argv);
