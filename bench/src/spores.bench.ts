import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { QueryNodes } from '@mycelium/contracts';
import { initNetwork, issueJoinToken } from '@mycelium/identity';
import { CommandClient, Topology } from '@mycelium/messaging';
import { Simulator } from '@mycelium/simulator';
import { json } from './report.js';

/**
 * The spores service at 1,000 nodes: how long a thousand nodes take to join and all be visible in
 * the registry, what a thousand heartbeats a second cost the service (CPU, memory), and how much
 * memory one real node agent needs. The service and the agent run as processes of their own.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODES = Number(process.env.BENCH_NODES ?? 1000);
const HEARTBEAT_PHASE_S = Number(process.env.BENCH_SECONDS ?? 20);
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CLOCK_TICKS = 100;
const AGENT_NODE_FLAGS = ['--max-semi-space-size=1'];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function spawnNode(script: string, args: string[], env: NodeJS.ProcessEnv, nodeFlags: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeFlags, join(root, script), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

const dir = mkdtempSync(join(tmpdir(), 'bench-spores-'));
const schema = `bench_spores_${Date.now()}`;
const topology = new Topology(`benchspores${Date.now().toString(36)}`);
const network = await initNetwork(join(dir, 'network'), { secured: false });
const children: ChildProcess[] = [];
const nc = await connect({ servers: natsUrl, name: 'bench-spores' });
const results: { name: string; value: string; target: string; met: boolean }[] = [];
try {
  const port = await freePort();
  progress('starting the spores service as its own process');
  const spores = spawnNode('apps/spores/dist/main.js', [], {
    DATABASE_URL: databaseUrl,
    MYCELIUM_DB_SCHEMA: schema,
    MYCELIUM_NAMESPACE: topology.namespace,
    NATS_URL: natsUrl,
    MYCELIUM_NETWORK_DIR: network.dir,
    MYCELIUM_HEARTBEAT_MS: '1000',
    MYCELIUM_SEED_EXPORT: join(dir, 'seed.json'),
    MYCELIUM_HOME: dir,
    PORT: String(port),
    LOG_LEVEL: 'warn',
  });
  children.push(spores);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 30_000, 'the spores service');
  const client = new CommandClient(nc, topology);
  const token = issueJoinToken(network.signer!, { tier: 'sclerotia', ttlSeconds: 3600, nats: { servers: [natsUrl], namespace: topology.namespace } }).token;
  const simulator = new Simulator({ nc, network: network.info.networkId, token, subject: (subject) => topology.subject(subject), concurrency: 128 });

  progress(`${NODES} simulated nodes join`);
  const started = performance.now();
  const joined = await simulator.join(NODES);
  if (joined.failed > 0) throw new Error(`${joined.failed} joins refused: ${joined.errors.join('; ')}`);
  await waitFor(async () => {
    const reply = await client.send(QueryNodes, { status: 'alive', limit: 1 });
    return reply.ok && reply.result.total === NODES;
  }, 60_000, `${NODES} nodes in the registry`);
  const formationS = (performance.now() - started) / 1000;
  results.push({ name: `${NODES} nodes join and are all visible in the registry`, value: `${formationS.toFixed(2)} s`, target: '< 10 s (seeds promise < 30 s)', met: formationS < 10 });

  progress(`${NODES} nodes heartbeat once a second; measuring for ${HEARTBEAT_PHASE_S} s`);
  simulator.startHeartbeats(1000);
  await sleep(3000);
  const accepted = async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(/mycelium_spores_heartbeats_total\{[^}]*outcome="accepted"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  const beforeCount = await accepted();
  const beforeCpu = cpuSeconds(spores.pid!);
  const phaseStart = performance.now();
  let peakRss = 0;
  while (performance.now() - phaseStart < HEARTBEAT_PHASE_S * 1000) {
    peakRss = Math.max(peakRss, rssMiB(spores.pid!));
    await sleep(500);
  }
  const elapsed = (performance.now() - phaseStart) / 1000;
  const rate = ((await accepted()) - beforeCount) / elapsed;
  const cpu = ((cpuSeconds(spores.pid!) - beforeCpu) / elapsed) * 100;
  const stillAlive = await client.send(QueryNodes, { status: 'alive', limit: 1 });
  const alive = stillAlive.ok ? stillAlive.result.total : 0;
  results.push({ name: `heartbeats handled at ${NODES} nodes × 1 Hz`, value: `${Math.round(rate)}/s`, target: `≥ ${Math.round(NODES * 0.98)}/s, all ${NODES} alive`, met: rate >= NODES * 0.98 && alive === NODES });
  results.push({ name: 'spores service CPU while handling them', value: `${cpu.toFixed(1)}% of a core`, target: 'reported', met: true });
  results.push({ name: 'spores service resident memory', value: `${peakRss.toFixed(0)} MiB`, target: 'reported', met: true });
  await simulator.stop();

  progress('one real node agent joins; measuring its memory');
  // As `npm run agent` and `myc up` start it: a small young generation suits an agent that idles.
  const agent = spawnNode('apps/agent/dist/main.js', ['--data-dir', join(dir, 'agent')], { LOG_LEVEL: 'info', NATS_URL: '', MYCELIUM_JOIN_TOKEN: token }, AGENT_NODE_FLAGS);
  children.push(agent);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the agent did not join')), 30_000);
    createInterface({ input: agent.stdout! }).on('line', (line) => {
      if (line.includes('"joined the grid"')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await sleep(5000);
  const agentRss = rssMiB(agent.pid!);
  results.push({ name: 'node agent resident memory, joined and heartbeating', value: `${agentRss.toFixed(0)} MiB`, target: '< 60 MiB (seeds: minimal core < 100 MB)', met: agentRss < 60 });

  if (json) {
    process.stdout.write(`${JSON.stringify({ title: 'Mycelium spores', nodes: NODES, results }, null, 2)}\n`);
  } else {
    const width = Math.max(...results.map((r) => r.name.length)) + 2;
    process.stdout.write(
      [
        'Mycelium spores at scale',
        `  ${NODES} simulated nodes over NATS, signed protocol; PostgreSQL event store; spores and agent in their own processes`,
        '',
        ...results.map((r) => `  ${r.name.padEnd(width)}${r.value.padStart(22)}   ${r.target}${r.target === 'reported' ? '' : r.met ? ' met' : ' MISSED'}`),
        '',
        results.every((r) => r.met) ? 'every target met' : 'some targets were missed',
        '',
      ].join('\n'),
    );
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
  await sleep(500);
  const jsm = await jetstreamManager(nc);
  for (const stream of [topology.eventsStream, topology.deadLetterStream]) await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}
