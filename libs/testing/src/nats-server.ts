import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';

/** A nats-server of the test's own, for tests that stop, restart or configure the bus. */
export interface TestNatsServer {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM), as in an outage. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
}

export function natsServerBinary(): string {
  for (const candidate of [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server']) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error('nats-server is not installed: infra/ensure-services.sh installs it');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts nats-server with JetStream on a free port; `config` (a configuration file's text, where
 * `{{PORT}}` and `{{STORE}}` are filled in) replaces the default flags.
 */
export async function startNatsServer(options: { config?: string } = {}): Promise<TestNatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nats-test-'));
  const url = `nats://127.0.0.1:${port}`;
  let args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'jetstream')];
  if (options.config) {
    const file = join(dir, 'nats.conf');
    writeFileSync(file, options.config.replaceAll('{{PORT}}', String(port)).replaceAll('{{STORE}}', join(dir, 'jetstream')));
    args = ['-c', file];
  }
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(natsServerBinary(), args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        // Any answer will do, even an authorization error: the server is up.
        const probe = await connect({ servers: url, timeout: 500, reconnect: false }).catch((error: Error) => {
          if (/authorization|authentication/i.test(error.message)) return undefined;
          throw error;
        });
        await probe?.close();
        return;
      } catch {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`nats-server did not start on port ${port}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  await start();
  return {
    url,
    port,
    dir,
    start,
    stop: async () => {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
