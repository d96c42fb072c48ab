import { loadConfig } from '@mycelium/messaging';
import { gridLogFile, type RunningGrid, startGrid } from './grid.js';

export interface UpCommandOptions {
  portBase: number;
  logFormat: 'human' | 'json';
  nodes: number;
}

/**
 * `myc up`: starts the grid, prints where everything is, and stops it all on Ctrl-C or SIGTERM —
 * also when the signal comes while the grid is still starting. A second Ctrl-C exits at once.
 */
export async function up(options: UpCommandOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const config = loadConfig();
  let grid: RunningGrid | undefined;
  let requested: string | undefined;
  /** A service that died before the grid was up: startGrid unwinds by itself, or we stop once it returns. */
  let diedWhileStarting: string | undefined;
  let stopping = false;

  const stop = (running: RunningGrid, reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    out.write(`\n${reason}: stopping the grid…\n`);
    running.stop().then(
      () => {
        out.write('grid stopped\n');
        process.exit(exitCode);
      },
      (error: unknown) => {
        process.stderr.write(`myc: the grid did not stop cleanly: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || requested) process.exit(130);
    if (grid) stop(grid, signal, 0);
    else requested = signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    grid = await startGrid({
      config,
      portBase: options.portBase,
      logFormat: options.logFormat,
      out,
      onServiceExit: (name, code) => {
        const reason = `${name} exited unexpectedly (${code}); see ${gridLogFile(config.home)}`;
        if (grid) stop(grid, reason, 1);
        else diedWhileStarting ??= reason;
      },
      nodes: options.nodes,
      onNodeExit: (name, code) => out.write(`${name} stopped (${code}): the grid treats it as a failed node\n`),
    });
  } catch (error) {
    process.stderr.write(`myc: ${(error as Error).message}\n`);
    process.exit(1);
  }
  if (diedWhileStarting) return stop(grid, diedWhileStarting, 1);
  if (requested) return stop(grid, requested, 0);

  const width = Math.max(...grid.services.map((service) => service.name.length));
  out.write(
    [
      'Mycelium grid is up',
      `  NATS         ${grid.natsUrl}${grid.natsStartedHere ? ' (started by myc)' : ''}`,
      `  network      ${grid.network.id}${grid.network.secured ? ' (NATS in operator mode)' : ''}`,
      `  event store  ${grid.store}`,
      ...grid.services.map((service, i) => `  ${i === 0 ? 'services    ' : '            '} ${service.name.padEnd(width)}  ${service.url}/healthz`),
      `  REST API     ${grid.api.url}/v1/nodes   (OpenAPI: ${grid.api.url}/docs)`,
      `  admin key    ${grid.api.key}`,
      `               (kept in ${grid.api.credentialsFile}; send it as Authorization: Bearer <key>)`,
      `  ingress      ${grid.ingress}   (apps: http://<app>.<tenant>.localhost:${new URL(grid.ingress).port}/)`,
      `  deploy       myc deploy -f examples/hello/app.json   (credits first: myc credits add 100 --reference welcome)`,
      `  nodes        ${grid.nodeIds.length === 0 ? 'none (--nodes N starts local agents)' : `${grid.nodeIds.length} local agents: ${grid.nodeIds.join(', ')}`}`,
      `  logs         ${grid.logFile}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}
