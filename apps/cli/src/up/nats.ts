import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { stopOnExit } from './children.js';

/** A NATS server for the grid: the configured one, or one this process started. */
export interface GridNats {
  url: string;
  /** Set when `myc up` started the server itself; stopping it is then ours to do. */
  child?: ChildProcess;
  stop(): Promise<void>;
}

export class NatsNotFoundError extends Error {
  constructor() {
    super(
      'no NATS server: set NATS_URL=nats://host:4222 to use a running one, or install nats-server ' +
        '(Debian/Ubuntu: apt-get install nats-server; macOS: brew install nats-server) and run this again',
    );
    this.name = 'NatsNotFoundError';
  }
}

/**
 * Where `nats-server` is: NATS_SERVER_BIN when set, else on PATH or in the sbin directories
 * Debian installs it to.
 */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NATS_SERVER_BIN) return isExecutable(env.NATS_SERVER_BIN) ? env.NATS_SERVER_BIN : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/opt/homebrew/bin'];
  return dirs
    .filter(Boolean)
    .map((dir) => join(dir, 'nats-server'))
    .find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function jetStreamAnswers(url: string, timeoutMs = 2000, creds?: string): Promise<boolean> {
  try {
    const nc = await connect({
      servers: url,
      timeout: timeoutMs,
      reconnect: false,
      ...(creds ? { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) } : {}),
    });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
      });
    });
  return (await tryPort(preferred)) ?? (await tryPort(0))!;
}

/**
 * Uses NATS_URL when set; otherwise starts `nats-server` with JetStream, its data under
 * `<home>/nats`, on 4222 when free or any free port.
 */
export async function provideNats(options: {
  home: string;
  url?: string;
  env?: NodeJS.ProcessEnv;
  /** Credentials to talk to the server with (operator mode). */
  creds?: string;
  /** A configuration file for the server we start, given its port and store (operator mode). */
  config?: (port: number, storeDir: string) => string;
}): Promise<GridNats> {
  if (options.url) {
    if (!(await jetStreamAnswers(options.url, 2000, options.creds))) {
      throw new Error(`NATS_URL is ${options.url} but no NATS server with JetStream answers there: start it, or unset NATS_URL`);
    }
    return { url: options.url, stop: async () => undefined };
  }
  const binary = findNatsServer(options.env);
  if (!binary) throw new NatsNotFoundError();
  const dir = join(options.home, 'nats');
  mkdirSync(dir, { recursive: true });
  await stopStaleServer(join(dir, 'nats-server.pid'));
  const port = await freePort(4222);
  let args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir];
  if (options.config) {
    const file = join(dir, 'nats.conf');
    writeFileSync(file, options.config(port, join(dir, 'jetstream')), { mode: 0o600 });
    args = ['-c', file];
  }
  const child = spawn(
    binary,
    [...args, '-P', join(dir, 'nats-server.pid'), '-l', join(dir, 'nats-server.log')],
    // Its own process group: a Ctrl-C meant for myc must not stop NATS before the services.
    { stdio: 'ignore', detached: true },
  );
  stopOnExit(child);
  const url = `nats://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 15_000;
  while (!(await jetStreamAnswers(url, 500, options.creds))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not start (see ${join(dir, 'nats-server.log')})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A server left running by a `myc up` that was killed would hold the data directory's lock. */
async function stopStaleServer(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || !isNatsServer(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 5000 && isNatsServer(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isNatsServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nats-server');
  } catch {
    return false;
  }
}
