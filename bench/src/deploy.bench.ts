import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AppActivated, AppRolloutFailed, DeployApp, StopApp, TopUpCredits } from '@mycelium/contracts';
import { loadNetwork } from '@mycelium/identity';
import { CommandClient, connectNats, Topology } from '@mycelium/messaging';
import { formatIngressBench, runIngressBench } from './ingress.bench.js';
import { json } from './report.js';
import { NOMAD_C1M_PLACEMENTS_PER_SECOND, runSchedulerBench } from './scheduler.bench.js';

/**
 * The grid's main job, measured three ways in one run:
 * - deploy latency, request → active, over 100 apps on a local grid (`myc up`, three agents, real
 *   processes), 10 deploys in flight at a time;
 * - scheduler placements per second, 10,000 replicas over 1,000 simulated nodes;
 * - ingress requests per second against a direct request to the app and against nginx.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const APPS = Number(process.env.BENCH_APPS ?? 100);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 10);
const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

interface Grid {
  child: ChildProcess;
  home: string;
  natsUrl: string;
}

/** `myc up` on the embedded store, as a user runs it, with three local agents. */
async function startGrid(): Promise<Grid> {
  const home = mkdtempSync(join(tmpdir(), 'bench-deploy-'));
  const child = spawn(process.execPath, [join(root, 'apps', 'cli', 'dist', 'main.js'), 'up', '--port-base', '0', '--nodes', '3'], {
    env: { ...process.env, MYCELIUM_HOME: home, NATS_URL: '', DATABASE_URL: '', MYCELIUM_INGRESS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const natsUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the grid did not come up within 120 s')), 120_000);
    let url: string | undefined;
    // The summary names NATS first and ends with "Press Ctrl-C": the grid is up then.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      url ??= /^\s+NATS\s+(nats:\/\/\S+)/.exec(line)?.[1];
      if (line.startsWith('Press Ctrl-C') && url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once('exit', (code) => reject(new Error(`myc up exited with ${code}`)));
  });
  return { child, home, natsUrl };
}

async function deployLatency(): Promise<{ p50: number; p99: number; failed: number; total: number }> {
  progress('starting a local grid (myc up, 3 agents)');
  const grid = await startGrid();
  const creds = loadNetwork(join(grid.home, 'network')).servicesCreds;
  const nc = await connectNats({ url: grid.natsUrl, name: 'bench-deploy', creds });
  const topology = new Topology('');
  const client = new CommandClient(nc, topology);
  try {
    const topUp = await client.send(TopUpCredits, { tenant: 'bench', amount: '1000', reference: 'bench' });
    if (!topUp.ok) throw new Error(topUp.error.message);
    const activated = new Map<string, (outcome: 'active' | 'failed') => void>();
    for (const [subject, outcome] of [
      [AppActivated.subject, 'active'],
      [AppRolloutFailed.subject, 'failed'],
    ] as const) {
      nc.subscribe(topology.subject(subject), {
        callback: (_error, msg) => {
          const event = msg.json<{ data: { appId: string } }>();
          activated.get(event.data.appId)?.(outcome);
        },
      });
    }
    const hello = join(root, 'examples', 'hello', 'server.mjs');
    const latencies: number[] = [];
    let failed = 0;
    const appIds: string[] = [];
    let next = 0;
    progress(`deploying ${APPS} apps, ${IN_FLIGHT} at a time`);
    const worker = async () => {
      while (next < APPS) {
        const index = next++;
        const started = performance.now();
        let settle!: (outcome: 'active' | 'failed') => void;
        const settled = new Promise<'active' | 'failed'>((resolve) => (settle = resolve));
        const reply = await client.send(
          DeployApp,
          {
            tenant: 'bench',
            spec: {
              name: `bench-${index}`,
              version: '1.0.0',
              replicas: 1,
              workload: { command: [process.execPath, hello] },
              resources: { cpu: 0.01, memoryMiB: 32, storageGiB: 0 },
              health: { path: '/healthz', intervalMs: 100, timeoutMs: 100, failureThreshold: 3, startTimeoutMs: 60_000 },
              stopGraceMs: 1000,
            },
          },
          { timeoutMs: 30_000 },
        );
        if (!reply.ok) throw new Error(`deploy ${index}: ${reply.error.message}`);
        activated.set(reply.result.appId, settle);
        appIds.push(reply.result.appId);
        const outcome = await Promise.race([settled, new Promise<'failed'>((resolve) => setTimeout(() => resolve('failed'), 120_000))]);
        if (outcome === 'active') latencies.push(performance.now() - started);
        else failed += 1;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    progress('stopping the apps');
    await Promise.all(appIds.map((appId) => client.send(StopApp, { tenant: 'bench', appId })));
    latencies.sort((a, b) => a - b);
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed, total: APPS };
  } finally {
    await nc.close();
    grid.child.kill('SIGINT');
    await new Promise((resolve) => grid.child.once('exit', resolve));
    rmSync(grid.home, { recursive: true, force: true });
  }
}

const deploy = await deployLatency();
progress('scheduler: 10,000 replicas over 1,000 simulated nodes');
const scheduler = runSchedulerBench({ nodes: 1000, apps: 2500, replicasPerApp: 4 });
progress('ingress: against the app directly and nginx');
const ingress = await runIngressBench({ progress });

if (json) {
  process.stdout.write(`${JSON.stringify({ deploy, scheduler: { ...scheduler, placements: undefined }, ingress }, null, 2)}\n`);
} else {
  process.stdout.write(
    [
      `Deploy: request → active over ${deploy.total} apps (1 replica each, ${IN_FLIGHT} in flight), a local grid of 3 agents on the embedded store`,
      `  p50 ${Math.round(deploy.p50)} ms   p99 ${Math.round(deploy.p99)} ms   ${deploy.failed} failed`,
      '',
      `Scheduler: ${scheduler.placed.toLocaleString('en-US')} replicas over ${scheduler.nodes.toLocaleString('en-US')} nodes`,
      `  ${Math.round(scheduler.placementsPerSecond).toLocaleString('en-US')} placements/s = ${(scheduler.placementsPerSecond / NOMAD_C1M_PLACEMENTS_PER_SECOND).toFixed(2)}× Nomad's C1M ${NOMAD_C1M_PLACEMENTS_PER_SECOND.toLocaleString('en-US')}/s (target ≥ 1.00); per app p50 ${scheduler.latencyMs.p50.toFixed(2)} ms, p99 ${scheduler.latencyMs.p99.toFixed(2)} ms`,
      '',
      formatIngressBench(ingress),
    ].join('\n'),
  );
}

