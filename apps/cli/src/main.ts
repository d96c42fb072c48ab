#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
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
  .description('start the whole grid on this machine: NATS, the event store and the six services; Ctrl-C stops it')
  .option('--port-base <port>', 'services listen on port-base+1 … +6; 0 picks free ports (env MYCELIUM_PORT_BASE)', port)
  .option('--log-format <format>', 'human: warnings and errors only, full JSON logs in the log file; json: every line', 'human')
  .action(async (options: { portBase?: number; logFormat: string }) => {
    if (options.logFormat !== 'human' && options.logFormat !== 'json') program.error('myc: --log-format must be human or json');
    await up({ portBase: options.portBase ?? portFromEnvironment(), logFormat: options.logFormat as 'human' | 'json' });
  });

await program.parseAsync(process.argv);
