import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bootstrapPermissions, issueJoinToken, type Network } from '@mycelium/identity';
import { stopOnExit } from './children.js';
import type { LogSink } from './log-sink.js';

export interface LocalAgents {
  nodeIds: string[];
  stop(): Promise<void>;
}

const REGIONS = ['local-a', 'local-b', 'local-c'];

/**
 * Starts `count` node agents, each a process of its own with a data dir under `<home>/agents`, all
 * joining with one token from the network key. They keep their keys, so a later `myc up` brings
 * back the same nodes.
 */
export async function startLocalAgents(options: {
  count: number;
  home: string;
  network: Network;
  natsUrl: string;
  namespace: string;
  sink: LogSink;
  onExit: (name: string, code: number | string | null) => void;
  /** The agent's entry point; default: the installed @mycelium/agent's. */
  agentMain?: string;
}): Promise<LocalAgents> {
  const { count, home, network, natsUrl, namespace, sink } = options;
  if (count === 0) return { nodeIds: [], stop: async () => undefined };
  const id = randomUUID();
  const ttlSeconds = 86_400;
  // As for any token: the credentials outlive it by ten minutes, so an expired token still gets
  // a clear refusal from the spores service rather than a bare NATS authorization error.
  const creds = network.nats?.canIssue
    ? await network.nats.issueCreds(`join-${id}`, {
        permissions: bootstrapPermissions(id, namespace ? `${namespace}.` : ''),
        expiresAt: new Date(Date.now() + (ttlSeconds + 600) * 1000),
      })
    : undefined;
  const { token } = issueJoinToken(network.signer!, {
    tier: 'sclerotia',
    ttlSeconds,
    id,
    nats: { servers: [natsUrl], ...(creds ? { creds } : {}), ...(namespace ? { namespace } : {}) },
  });
  const main = options.agentMain ?? join(dirname(fileURLToPath(import.meta.resolve('@mycelium/agent'))), 'main.js');
  const agents: { name: string; child: ChildProcess; exited: Promise<unknown> }[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const { child } of agents) if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => agents.forEach(({ child }) => child.exitCode === null && child.kill('SIGKILL')), 5000);
    await Promise.all(agents.map(({ exited }) => exited));
    clearTimeout(timer);
  };
  const joins: Promise<string>[] = [];
  for (let i = 1; i <= count; i += 1) {
    const name = `node-${i}`;
    // The token goes in the environment: a command line is readable by every user (ps, /proc/*/cmdline).
    const child = spawn(process.execPath, ['--max-semi-space-size=1', main, '--data-dir', join(home, 'agents', name), '--region', REGIONS[(i - 1) % REGIONS.length]!], {
      env: { ...process.env, NATS_URL: '', MYCELIUM_JOIN_TOKEN: token, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stopOnExit(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    agents.push({ name, child, exited });
    joins.push(
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`agent ${name} did not join within 30 s (see ${sink.path})`)), 30_000);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          sink.line(line);
          try {
            const entry = JSON.parse(line) as { msg?: string; nodeId?: string };
            if (entry.msg === 'joined the grid' && entry.nodeId) {
              clearTimeout(timer);
              resolve(entry.nodeId);
            }
          } catch {
            // not a log line
          }
        });
        createInterface({ input: child.stderr! }).on('line', (line) => sink.line(line));
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          if (!stopping) options.onExit(name, code ?? signal);
          reject(new Error(`agent ${name} exited (${code ?? signal}) before joining (see ${sink.path})`));
        });
      }),
    );
  }
  try {
    return { nodeIds: await Promise.all(joins), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
