#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '@mycelium/messaging';
import { startGrid } from './up/grid.js';

function integer(value: string): number {
  const parsed = Number.parseInt(value, 10);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_000) throw new InvalidArgumentError('expected a port number');
  return parsed;
}

function fail(error: unknown): never {
  process.stderr.write(`myc: ${(error as Error).message}\n`);
  process.exit(1);
}

const program = new Command('myc')
  .description('Mycelium: a self-healing compute grid. Run a local grid and drive it.')
  .version('0.1.0');

program
  .command('up')
  .description('start the whole grid on this machine: NATS, the event store and the six services; Ctrl-C stops it')
  .option('--port-base <port>', 'services listen on port-base+1 … +6 (0: any free ports)', integer, Number(process.env.MYCELIUM_PORT_BASE ?? 8100))
  .option('--log-format <format>', 'human: warnings and errors only, full JSON logs in the log file; json: every line', 'human')
  .action(async (options: { portBase: number; logFormat: string }) => {
    if (options.logFormat !== 'human' && options.logFormat !== 'json') fail(new Error('--log-format must be human or json'));
    const out = process.stdout;
    let grid: Awaited<ReturnType<typeof startGrid>>;
    try {
      grid = await startGrid({ config: loadConfig(), portBase: options.portBase, logFormat: options.logFormat, out });
    } catch (error) {
      fail(error);
    }
    const width = Math.max(...grid.services.map((service) => service.name.length));
    out.write(
      [
        'Mycelium grid is up',
        `  NATS         ${grid.natsUrl}${grid.natsStartedHere ? ' (started by myc)' : ''}`,
        `  event store  ${grid.store}`,
        ...grid.services.map((service, i) => `  ${i === 0 ? 'services    ' : '            '} ${service.name.padEnd(width)}  ${service.url}/healthz`),
        `  logs         ${grid.logFile}`,
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      out.write(`\n${signal}: stopping the grid…\n`);
      grid.stop().then(
        () => {
          out.write('grid stopped\n');
          process.exit(0);
        },
        (error: unknown) => fail(error),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

await program.parseAsync(process.argv);
