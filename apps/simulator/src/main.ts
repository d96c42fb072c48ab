#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { issueJoinToken, loadNetwork, networkExists, readJoinToken } from '@mycelium/identity';
import { type FaultKind, Simulator } from './simulator.js';

const FAULTS = ['kill', 'pause', 'flap', 'forge'] as const;

interface ScheduledFault {
  kind: FaultKind;
  count: number;
  pauseMs?: number;
  atMs: number;
}

/** `kill:10@30s`, `pause:5:10000@20s`, `flap:3`, `forge:2@15s` */
function parseFault(value: string, previous: ScheduledFault[] = []): ScheduledFault[] {
  const match = /^(kill|pause|flap|forge):(\d+)(?::(\d+))?(?:@(\d+)(ms|s)?)?$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected kind:count[:pauseMs][@delay], e.g. kill:10@30s');
  const delay = Number(match[4] ?? 0) * (match[5] === 'ms' ? 1 : 1000);
  return [...previous, { kind: match[1] as FaultKind, count: Number(match[2]), ...(match[3] ? { pauseMs: Number(match[3]) } : {}), atMs: delay }];
}

const program = new Command('mycelium-simulate')
  .description('run thousands of virtual node agents against a grid, over the same signed protocol, with faults on demand')
  .option('--nodes <n>', 'virtual nodes to join', (value) => Number.parseInt(value, 10), 100)
  .option('--nats <url>', 'NATS server (default: the running local grid’s, or NATS_URL)')
  .option('--namespace <ns>', 'the grid’s subject namespace (default: the local grid’s, or MYCELIUM_NAMESPACE)')
  .option('--token <token>', 'join token (default: one issued with the local network key)')
  .option('--heartbeat-ms <ms>', 'heartbeat interval (default: what the grid asks)', (value) => Number.parseInt(value, 10))
  .option('--fault <spec>', 'schedule a fault: kind:count[:pauseMs][@delay], kinds kill, pause, flap, forge (repeatable)', parseFault, [])
  .option('--duration <s>', 'stop after this many seconds (default: run until Ctrl-C)', (value) => Number.parseInt(value, 10))
  .option('--leave', 'have every node leave cleanly when the simulation ends')
  .option('--json', 'print status as JSON lines')
  .action(async (options: { nodes: number; nats?: string; namespace?: string; token?: string; heartbeatMs?: number; fault: ScheduledFault[]; duration?: number; leave?: boolean; json?: boolean }) => {
    const home = resolve(process.env.MYCELIUM_HOME || '.mycelium');
    const grid = existsSync(join(home, 'grid.json')) ? (JSON.parse(readFileSync(join(home, 'grid.json'), 'utf8')) as { natsUrl?: string; namespace?: string }) : {};
    const networkDir = process.env.MYCELIUM_NETWORK_DIR || join(home, 'network');
    const network = networkExists(networkDir) ? loadNetwork(networkDir) : undefined;
    const natsUrl = options.nats ?? process.env.NATS_URL ?? grid.natsUrl ?? 'nats://127.0.0.1:4222';
    const namespace = options.namespace ?? process.env.MYCELIUM_NAMESPACE ?? grid.namespace ?? '';
    const token =
      options.token ??
      process.env.MYCELIUM_JOIN_TOKEN ??
      (network?.signer ? issueJoinToken(network.signer, { tier: 'sclerotia', ttlSeconds: 3600, nats: { servers: [natsUrl], namespace } }).token : undefined);
    if (!token) return program.error('mycelium-simulate: no join token: pass --token, or run where `myc network init` created the network key');
    const claims = readJoinToken(token);
    const say = (line: Record<string, unknown>, text: string) => process.stdout.write(options.json ? `${JSON.stringify(line)}\n` : `${text}\n`);

    const nc = await connect({
      servers: natsUrl,
      name: 'mycelium-simulator',
      maxReconnectAttempts: -1,
      ...(network?.servicesCreds ? { authenticator: credsAuthenticator(new TextEncoder().encode(network.servicesCreds)) } : {}),
    });
    const simulator = new Simulator({ nc, network: claims.iss, token, subject: (subject) => (namespace ? `${namespace}.${subject}` : subject) });
    say({ event: 'joining', nodes: options.nodes, nats: natsUrl }, `joining ${options.nodes} virtual nodes to ${claims.iss} at ${natsUrl}…`);
    const joined = await simulator.join(options.nodes);
    say({ event: 'joined', ...joined }, `joined ${joined.joined}/${options.nodes} in ${(joined.ms / 1000).toFixed(2)} s${joined.failed ? `; ${joined.failed} refused: ${joined.errors.join('; ')}` : ''}`);
    const interval = options.heartbeatMs ?? simulator.nodes.find((node) => node.accepted)?.accepted?.heartbeatIntervalMs ?? 2000;
    simulator.startHeartbeats(interval);

    const apply = (fault: Omit<ScheduledFault, 'atMs'>) => {
      const ids = simulator.fault(fault.kind, fault.count, { pauseMs: fault.pauseMs, intervalMs: interval });
      say({ event: 'fault', ...fault, nodes: ids }, `${fault.kind}: ${ids.length} node(s) ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? '…' : ''}`);
    };
    for (const fault of options.fault) setTimeout(() => apply(fault), fault.atMs).unref();

    let lastSent = 0;
    const report = () => {
      const stats = simulator.stats();
      const rate = (stats.heartbeatsSent - lastSent) / 5;
      lastSent = stats.heartbeatsSent;
      say({ event: 'status', ...stats, heartbeatsPerSecond: rate }, `${stats.nodes} nodes ${JSON.stringify(stats.byState)}; ${Math.round(rate)} heartbeats/s; ${stats.notices} notices`);
    };
    const statusTimer = setInterval(report, 5000);

    let stopping = false;
    const finish = async () => {
      if (stopping) process.exit(130);
      stopping = true;
      clearInterval(statusTimer);
      report();
      await simulator.stop({ leave: options.leave });
      await nc.drain().catch(() => undefined);
      process.exit(0);
    };
    process.on('SIGINT', () => void finish());
    process.on('SIGTERM', () => void finish());
    if (options.duration) setTimeout(() => void finish(), options.duration * 1000);
    if (!process.stdin.isTTY || process.stdin.readable) {
      // Faults on demand: "kill 10", "pause 5 10000", "flap 3", "forge 2", "status", "quit".
      createInterface({ input: process.stdin }).on('line', (line) => {
        const [command, count, pause] = line.trim().split(/\s+/);
        if (command === 'quit') void finish();
        else if (command === 'status') report();
        else if ((FAULTS as readonly string[]).includes(command ?? '') && Number(count) > 0) apply({ kind: command as FaultKind, count: Number(count), ...(pause ? { pauseMs: Number(pause) } : {}) });
        else if (command) process.stderr.write('commands: kill N | pause N MS | flap N | forge N | status | quit\n');
      });
    }
  });

await program.parseAsync(process.argv);
