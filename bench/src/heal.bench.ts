import { randomBytes } from 'node:crypto';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import {
  AppActivated,
  AppReplicaHealthy,
  AppRolloutFailed,
  type AppView,
  DeployApp,
  GetApp,
  NodeSuspected,
  QueryNodes,
  RoundClosed,
  StopApp,
  TopUpCredits,
  type WorkloadReport,
  WorkloadSubjects,
} from '@mycelium/contracts';
import { initNetwork, issueJoinToken, type Network } from '@mycelium/identity';
import { CommandClient, Topology } from '@mycelium/messaging';
import { ReplicaEndpoint, Simulator } from '@mycelium/simulator';
import { json } from './report.js';

/**
 * Self-healing, timed from the moment a node dies (issue 5): until the spores service suspects it
 * (`node-suspected`), until its peers' round closes (`round-closed`), and until replacements of
 * the replicas it ran pass their health checks on other nodes (`app-replica-healthy`). Each figure
 * is when the bench, subscribed to the event subjects on NATS, receives the event.
 *
 * - real: the services and 5 node agents as processes on PostgreSQL; 20 times, an app of 3
 *   replicas is deployed over two zones, the agent running 2 of them is SIGKILLed with them, and a
 *   fresh agent takes its place.
 * - scale: the same services, 1,000 simulated nodes that run replicas and vote (apps/simulator),
 *   200 apps × 2 replicas, and 50 nodes holding replicas killed at once; heartbeats every 500 ms
 *   (BENCH_SCALE_HEARTBEAT_MS; at 300 ms a thousand joins do not all get through here), rounds
 *   asking committees of 25 (BENCH_COMMITTEE).
 *
 * BENCH_PART=real|scale runs one part; BENCH_RUNS, BENCH_NODES, BENCH_KILLS, BENCH_APPS resize;
 * BENCH_SCALE_WAIT_S bounds the wait for the scale figures; BENCH_LOGS=dir keeps the processes'
 * logs (and the run's schema), BENCH_PROFILE=dir their CPU profiles. At scale the relay runs in
 * the billing service only (BENCH_SCALE_RELAY names another): in the spores process, which
 * verifies every heartbeat, its lag from append to bus was p50 1.2–2.2 s, p99 7–16 s.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PART = process.env.BENCH_PART ?? 'all';
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 5);
const NODES = Number(process.env.BENCH_NODES ?? 1000);
const KILLS = Number(process.env.BENCH_KILLS ?? 50);
const APPS = Number(process.env.BENCH_APPS ?? 200);
const HEARTBEAT_MS = Number(process.env.BENCH_HEARTBEAT_MS ?? 300);
const SCALE_HEARTBEAT_MS = Number(process.env.BENCH_SCALE_HEARTBEAT_MS ?? 500);
const SCALE_WAIT_S = Number(process.env.BENCH_SCALE_WAIT_S ?? 60);
/** A directory to keep every process' log lines in (`<name>.log`), for looking into a slow run. */
const LOG_DIR = process.env.BENCH_LOGS;
if (LOG_DIR) mkdirSync(LOG_DIR, { recursive: true });
/** A directory for a CPU profile of each process (`<name>.cpuprofile`, written when it stops). */
const PROFILE_DIR = process.env.BENCH_PROFILE;
/** Nodes asked in each round: the consensus service's committee, drawn by trust from the alive ones. */
const COMMITTEE = Number(process.env.BENCH_COMMITTEE ?? 25);
const SCALE_RELAY = process.env.BENCH_SCALE_RELAY ?? 'billing';
/** At scale the relay runs in one chosen process only. */
const relayIn = (service: string) => ({ MYCELIUM_RELAY: service === SCALE_RELAY ? 'on' : 'off' });
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const hello = join(root, 'examples', 'hello', 'server.mjs');
const AIM_MS = 5000;
const PEERS = [
  { name: 'Nomad', ms: 50_000, how: 'down after ~20 s, rescheduled after a 30 s delay' },
  { name: 'Kubernetes', ms: 350_000, how: 'node-monitor-grace 40 s + pod eviction 300 s, defaults' },
];
const SERVICES = ['spores', 'consensus', 'billing', 'deployment', 'healing'];

const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface Proc {
  child: ChildProcess;
  /** The first JSON log line matching `predicate`, waiting for it. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function startNode(name: string, script: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...profile, join(root, script), ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const tail: string[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (LOG_DIR) appendFileSync(join(LOG_DIR, `${name}.log`), `${line}\n`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
        // Only the first lines are ever awaited (up, joined): keep memory flat on long runs.
        if (lines.length > 200) lines.shift();
      } catch {
        // not a log line
      }
      for (const wake of waiters) wake();
    });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    waitForLog: (predicate, timeoutMs) =>
      new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        const check = () => {
          const found = lines.find(predicate);
          if (found) {
            done();
            resolve(found);
          }
        };
        const onExit = () => {
          done();
          reject(new Error(`${name} exited early:\n${tail.join('\n')}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: the expected log line did not come within ${timeoutMs} ms:\n${tail.join('\n')}`));
        }, timeoutMs);
        waiters.add(check);
        child.once('exit', onExit);
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await Promise.race([exited, sleep(10_000)]);
    },
  };
}

/** The events each figure waits for, with the time the bench received them. */
interface Heard {
  suspected: Map<string, number[]>;
  closed: Map<string, { at: number; outcome: string; offences: Record<string, number> }[]>;
  healthy: { at: number; appId: string; nodeId: string }[];
}

const suspectedAfter = (heard: Heard, nodeId: string, since: number) => heard.suspected.get(nodeId)?.find((at) => at >= since);
const closedAfter = (heard: Heard, nodeId: string, since: number) => heard.closed.get(nodeId)?.find((closed) => closed.at >= since);

interface Grid {
  nc: NatsConnection;
  client: CommandClient;
  topology: Topology;
  network: Network;
  home: string;
  schema: string;
  services: Map<string, Proc>;
  heard: Heard;
  /** Starts these services as processes, one after the other, each once it said it is up. */
  start(names: string[], env?: NodeJS.ProcessEnv): Promise<void>;
  close(): Promise<void>;
}

/** A fresh schema and namespace for services run as processes with the e2e's short timings. */
async function startGrid(label: string, env: NodeJS.ProcessEnv = {}): Promise<Grid> {
  const stamp = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const home = mkdtempSync(join(tmpdir(), `bench-heal-${label}-`));
  const schema = `bench_heal_${label}_${stamp}`;
  const topology = new Topology(`benchheal${label}${stamp}`);
  const network = await initNetwork(join(home, 'network'), { secured: false });
  const nc = await connect({ servers: natsUrl, name: `bench-heal-${label}` });
  const heard: Heard = { suspected: new Map(), closed: new Map(), healthy: [] };
  const data = <T>(body: Uint8Array) => (JSON.parse(new TextDecoder().decode(body)) as { data: T }).data;
  nc.subscribe(topology.subject(NodeSuspected.subject), {
    callback: (_error, msg) => {
      const { nodeId } = data<{ nodeId: string }>(msg.data);
      heard.suspected.set(nodeId, [...(heard.suspected.get(nodeId) ?? []), performance.now()]);
    },
  });
  nc.subscribe(topology.subject(RoundClosed.subject), {
    callback: (_error, msg) => {
      const closed = data<{ subject: string; topic: string; outcome: string; offenders: { offence: string }[] }>(msg.data);
      if (closed.topic !== 'node-liveness') return;
      const offences: Record<string, number> = {};
      for (const { offence } of closed.offenders) offences[offence] = (offences[offence] ?? 0) + 1;
      heard.closed.set(closed.subject, [...(heard.closed.get(closed.subject) ?? []), { at: performance.now(), outcome: closed.outcome, offences }]);
    },
  });
  nc.subscribe(topology.subject(AppReplicaHealthy.subject), {
    callback: (_error, msg) => {
      const { appId, nodeId } = data<{ appId: string; nodeId: string }>(msg.data);
      heard.healthy.push({ at: performance.now(), appId, nodeId });
    },
  });
  await nc.flush();
  const services = new Map<string, Proc>();
  const serviceEnv = {
    NATS_URL: natsUrl,
    DATABASE_URL: databaseUrl,
    MYCELIUM_DB_SCHEMA: schema,
    MYCELIUM_NAMESPACE: topology.namespace,
    MYCELIUM_HOME: home,
    MYCELIUM_NETWORK_DIR: network.dir,
    MYCELIUM_HEARTBEAT_MS: String(HEARTBEAT_MS),
    MYCELIUM_SUSPECT_AFTER_MISSES: '3',
    MYCELIUM_DOWN_GRACE_MS: '1500',
    MYCELIUM_PRICE_SOURCES: 'fixed:0.01',
    MYCELIUM_SAGA_RESEND_MS: '1000',
    MYCELIUM_HEALING_ROUND_COMMIT_MS: '400',
    MYCELIUM_HEALING_ROUND_REVEAL_MS: '400',
    MYCELIUM_SEED_EXPORT: join(home, 'seed.json'),
    PORT: '0',
    ...env,
  };
  const close = async () => {
    await Promise.all([...services.values()].map((service) => service.stop()));
    const jsm = await jetstreamManager(nc);
    for (const stream of [topology.eventsStream, topology.deadLetterStream]) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    // With the logs kept, the log of record is kept too, to read beside them.
    if (LOG_DIR) progress(`kept schema ${schema}`);
    else await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    rmSync(home, { recursive: true, force: true });
  };
  const start = async (names: string[], extra: NodeJS.ProcessEnv = {}) => {
    for (const service of names) {
      const proc = startNode(service, `apps/${service}/dist/main.js`, [], { ...serviceEnv, ...extra });
      services.set(service, proc);
      await proc.waitForLog((line) => line.msg === `${service} is up`, 60_000);
    }
  };
  return { nc, client: new CommandClient(nc, topology), topology, network, home, schema, services, heard, start, close };
}

async function ok<T>(reply: Promise<{ ok: true; result: T } | { ok: false; error: { code: string; message: string } }>): Promise<T> {
  const answer = await reply;
  if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
  return answer.result;
}

interface Figures {
  detectionMs: number[];
  outcomeMs: number[];
  healthyMs: number[];
  outcomes: Record<string, number>;
  offences: Record<string, number>;
  /** Killed nodes, lost replicas, and how many of each figure never came. */
  killed: number;
  lost: number;
  missing: { detection: number; outcome: number; healthy: number };
}

const emptyFigures = (): Figures => ({ detectionMs: [], outcomeMs: [], healthyMs: [], outcomes: {}, offences: {}, killed: 0, lost: 0, missing: { detection: 0, outcome: 0, healthy: 0 } });

/** What each killed node ran: app id → replicas. */
type Lost = Map<string, Map<string, number>>;

/**
 * Folds what was heard after `killedAt` about the killed nodes into the figures: per node its
 * detection and first outcome; per app, its n-th replica newly healthy on a node that was not
 * killed stands for its n-th lost replica.
 */
function collect(figures: Figures, heard: Heard, killedAt: number, lost: Lost): void {
  figures.killed += lost.size;
  const lostByApp = new Map<string, number>();
  for (const [nodeId, apps] of lost) {
    const suspected = suspectedAfter(heard, nodeId, killedAt);
    if (suspected !== undefined) figures.detectionMs.push(suspected - killedAt);
    else figures.missing.detection += 1;
    const closed = closedAfter(heard, nodeId, killedAt);
    if (closed) {
      figures.outcomeMs.push(closed.at - killedAt);
      figures.outcomes[closed.outcome] = (figures.outcomes[closed.outcome] ?? 0) + 1;
      for (const [offence, count] of Object.entries(closed.offences)) figures.offences[offence] = (figures.offences[offence] ?? 0) + count;
    } else {
      figures.missing.outcome += 1;
      figures.outcomes['no outcome'] = (figures.outcomes['no outcome'] ?? 0) + 1;
    }
    for (const [appId, count] of apps) lostByApp.set(appId, (lostByApp.get(appId) ?? 0) + count);
  }
  for (const [appId, count] of lostByApp) {
    figures.lost += count;
    const replacements = heard.healthy.filter((event) => event.appId === appId && event.at >= killedAt && !lost.has(event.nodeId)).slice(0, count);
    for (const event of replacements) figures.healthyMs.push(event.at - killedAt);
    figures.missing.healthy += count - replacements.length;
  }
}

/** Whether every figure of this kill that can still come has come: only a node voted down is evacuated. */
function complete(heard: Heard, killedAt: number, lost: Lost): boolean {
  const needed = new Map<string, number>();
  for (const [nodeId, apps] of lost) {
    const closed = closedAfter(heard, nodeId, killedAt);
    if (suspectedAfter(heard, nodeId, killedAt) === undefined || !closed) return false;
    if (closed.outcome !== 'down') continue;
    for (const [appId, count] of apps) needed.set(appId, (needed.get(appId) ?? 0) + count);
  }
  for (const [appId, count] of needed) {
    if (heard.healthy.filter((event) => event.appId === appId && event.at >= killedAt && !lost.has(event.nodeId)).length < count) return false;
  }
  return true;
}

const appSpec = (name: string, replicas: number, health: { intervalMs: number; timeoutMs: number }) => ({
  name,
  version: '1.0.0',
  replicas,
  workload: { command: [process.execPath, hello] },
  resources: { cpu: 0.01, memoryMiB: 32, storageGiB: 0 },
  health: { path: '/healthz', ...health, failureThreshold: 2, startTimeoutMs: 30_000 },
  stopGraceMs: 500,
});

/** Part 1: real services, real agents, real replica processes; a node killed RUNS times. */
async function realPart(): Promise<Figures & { runs: number; agents: number }> {
  progress(`real: starting ${SERVICES.join(', ')} as processes on PostgreSQL`);
  const grid = await startGrid('real');
  try {
    await grid.start(SERVICES);
  } catch (error) {
    await grid.close();
    throw error;
  }
  const agents = new Map<string, { proc: Proc; region: string }>();
  const reports = new Map<string, WorkloadReport>();
  const figures = emptyFigures();
  try {
    grid.nc.subscribe(grid.topology.subject(WorkloadSubjects.allReports), {
      callback: (_error, msg) => {
        const report = msg.json<WorkloadReport>();
        reports.set(report.nodeId, report);
      },
    });
    let started = 0;
    const startAgent = async (region: string) => {
      const name = `agent-${started++}`;
      const token = issueJoinToken(grid.network.signer!, { tier: 'sclerotia', ttlSeconds: 3600, nats: { servers: [natsUrl], namespace: grid.topology.namespace } }).token;
      const proc = startNode(name, 'apps/agent/dist/main.js', ['--data-dir', join(grid.home, name), '--region', region, '--workload-report-ms', '300'], {
        NATS_URL: '',
        MYCELIUM_JOIN_TOKEN: token,
      });
      const joined = await proc.waitForLog((line) => line.msg === 'joined the grid', 30_000);
      agents.set(joined.nodeId as string, { proc, region });
      return joined.nodeId as string;
    };
    progress(`real: ${AGENTS} node agents join`);
    for (let i = 0; i < AGENTS; i += 1) await startAgent(`zone-${String.fromCharCode(97 + i)}`);
    await ok(grid.client.send(TopUpCredits, { tenant: 'bench', amount: '1000', reference: 'bench-heal' }));
    const regions = [...new Set([...agents.values()].map((agent) => agent.region))];
    let previous: string | undefined;

    for (let run = 1; run <= RUNS; run += 1) {
      // As the e2e: 3 replicas over two zones, so one node runs 2 of them; that node dies.
      const zones = [regions[run % regions.length]!, regions[(run + 1) % regions.length]!];
      const { appId } = await ok(grid.client.send(DeployApp, { tenant: 'bench', spec: { ...appSpec(`web-${run}`, 3, { intervalMs: 200, timeoutMs: 200 }), placement: { regions: zones } } }));
      const app = await waitFor(async () => {
        const view = await ok<AppView>(grid.client.send(GetApp, { appId }));
        return view.status === 'active' && view.healthyReplicas === 3 ? view : undefined;
      }, 60_000, `app web-${run} active`);
      if (previous) {
        // The last run's replicas are gone before a node dies, so none is left behind orphaned.
        const stopped = previous;
        await ok(grid.client.send(StopApp, { tenant: 'bench', appId: stopped }));
        await waitFor(
          () => [...reports.values()].every((report) => !agents.has(report.nodeId) || report.replicas.every((replica) => replica.appId !== stopped || replica.state === 'stopped')),
          30_000,
          `app web-${run - 1} stopped`,
        );
      }
      previous = appId;
      const byNode = new Map<string, number>();
      for (const replica of app.replicas) byNode.set(replica.nodeId, (byNode.get(replica.nodeId) ?? 0) + 1);
      const [victim, lost] = [...byNode].sort((a, b) => b[1] - a[1])[0]!;
      const pids = await waitFor(() => {
        const found = (reports.get(victim)?.replicas ?? []).filter((replica) => replica.appId === appId && replica.state === 'healthy' && typeof replica.pid === 'number').map((replica) => replica.pid!);
        return found.length === lost ? found : undefined;
      }, 10_000, `the pids of the replicas on ${victim}`);
      const { proc, region } = agents.get(victim)!;
      const killedAt = performance.now();
      proc.child.kill('SIGKILL');
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone with its agent already
        }
      }
      agents.delete(victim);
      const lostHere: Lost = new Map([[victim, new Map([[appId, lost]])]]);
      await waitFor(() => complete(grid.heard, killedAt, lostHere), 30_000, `run ${run}: detection, outcome and replacements`).catch((error: Error) => progress(error.message));
      collect(figures, grid.heard, killedAt, lostHere);
      const since = (at: number | undefined) => (at === undefined ? '—' : `${Math.round(at - killedAt)} ms`);
      const closed = closedAfter(grid.heard, victim, killedAt);
      const healthy = grid.heard.healthy.filter((event) => event.appId === appId && event.at >= killedAt && event.nodeId !== victim).slice(0, lost).at(-1);
      progress(`run ${run}/${RUNS}: node ${victim.slice(0, 8)} with ${lost} replica(s): suspected ${since(suspectedAfter(grid.heard, victim, killedAt))}, ${closed?.outcome ?? 'no outcome'} ${since(closed?.at)}, replacements healthy ${since(healthy?.at)}`);
      // A fresh agent takes the dead one's place, so the next run has a node to kill.
      await startAgent(region);
    }
    return { ...figures, runs: RUNS, agents: AGENTS };
  } finally {
    await Promise.all([...agents.values()].map(({ proc }) => proc.stop('SIGTERM')));
    await grid.close();
  }
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

type ScaleFigures = Figures & {
  nodes: number;
  apps: number;
  deployS: number;
  cpu: Record<string, number>;
  events: Record<string, number>;
  relayLagMs: { p50: number; p99: number };
  note?: string;
};

/** Part 2: 1,000 simulated nodes running replicas and voting; 50 holding replicas killed at once. */
async function scalePart(): Promise<ScaleFigures> {
  progress(`scale: spores first, heartbeats every ${SCALE_HEARTBEAT_MS} ms`);
  // The services' default round windows (500/500 ms): at 400 ms a saturated machine delays reveals past them.
  const grid = await startGrid('scale', { MYCELIUM_HEARTBEAT_MS: String(SCALE_HEARTBEAT_MS), MYCELIUM_HEALING_ROUND_COMMIT_MS: '500', MYCELIUM_HEALING_ROUND_REVEAL_MS: '500' });
  const endpoint = await new ReplicaEndpoint().start();
  const token = issueJoinToken(grid.network.signer!, { tier: 'sclerotia', ttlSeconds: 3600, nats: { servers: [natsUrl], namespace: grid.topology.namespace } }).token;
  const simulator = new Simulator({
    nc: grid.nc,
    network: grid.network.info.networkId,
    token,
    subject: (subject) => grid.topology.subject(subject),
    concurrency: 64,
    endpoint,
    reportMs: 2000,
  });
  const figures = emptyFigures();
  try {
    await grid.start(['spores'], relayIn('spores'));
    progress(`scale: ${NODES} simulated nodes join`);
    simulator.startHeartbeats(SCALE_HEARTBEAT_MS);
    const joined = await simulator.join(NODES);
    if (joined.failed > 0) throw new Error(`${joined.failed} joins refused: ${joined.errors.join('; ')}`);
    await waitFor(async () => (await ok(grid.client.send(QueryNodes, { status: 'alive', limit: 1 }))).total === NODES || undefined, 60_000, `${NODES} alive nodes`).catch(async (error: Error) => {
      const counts = await Promise.all((['alive', 'suspected', 'down'] as const).map(async (status) => `${(await ok(grid.client.send(QueryNodes, { status, limit: 1 }))).total} ${status}`));
      throw new Error(`${error.message}: ${counts.join(', ')}`);
    });

    const rest = SERVICES.filter((service) => service !== 'spores');
    progress(`scale: starting ${rest.join(', ')}`);
    for (const service of rest) await grid.start([service], { MYCELIUM_CONSENSUS_COMMITTEE_SIZE: String(COMMITTEE), ...relayIn(service) });
    progress(`scale: deploying ${APPS} apps × 2 replicas, 20 in flight`);
    await ok(grid.client.send(TopUpCredits, { tenant: 'bench', amount: '100000', reference: 'bench-heal-scale' }));
    const settle = new Map<string, (outcome: string) => void>();
    const reasons = new Set<string>();
    for (const [subject, outcome] of [
      [AppActivated.subject, 'active'],
      [AppRolloutFailed.subject, 'failed'],
    ] as const) {
      grid.nc.subscribe(grid.topology.subject(subject), {
        callback: (_error, msg) => {
          const { appId, reason } = msg.json<{ data: { appId: string; reason?: string } }>().data;
          if (reason && reasons.size < 3) reasons.add(reason.slice(0, 300));
          settle.get(appId)?.(outcome);
        },
      });
    }
    const deployStart = performance.now();
    let next = 0;
    let failed = 0;
    const deployer = async () => {
      while (next < APPS) {
        const index = next++;
        let done!: (outcome: string) => void;
        const outcome = new Promise<string>((resolve) => (done = resolve));
        const { appId } = await ok(grid.client.send(DeployApp, { tenant: 'bench', spec: { ...appSpec(`sim-${index}`, 2, { intervalMs: 1000, timeoutMs: 1000 }), resources: { cpu: 1, memoryMiB: 512, storageGiB: 0 } } }, { timeoutMs: 30_000 }));
        settle.set(appId, done);
        if ((await Promise.race([outcome, sleep(120_000).then(() => 'timeout')])) !== 'active') failed += 1;
      }
    };
    await Promise.all(Array.from({ length: 20 }, deployer));
    const deployS = (performance.now() - deployStart) / 1000;
    if (failed > 0) progress(`scale: ${failed} of ${APPS} deploys did not become active: ${[...reasons].join(' | ')}`);

    const hosting = new Map<string, Map<string, number>>();
    for (const replica of simulator.replicas()) {
      if (replica.state !== 'healthy') continue;
      const apps = hosting.get(replica.nodeId) ?? new Map<string, number>();
      apps.set(replica.appId, (apps.get(replica.appId) ?? 0) + 1);
      hosting.set(replica.nodeId, apps);
    }
    progress(`scale: ${hosting.size} nodes run replicas; killing ${KILLS} of them at once`);
    // Let the deploys' last reports and meters settle: the kill meets a quiet grid.
    await sleep(3000);
    const cpuBefore = new Map([...grid.services].map(([name, service]) => [name, cpuSeconds(service.child.pid!)]));
    const selfBefore = process.cpuUsage();
    // What the log carried from the kill on, by event type: where the grid's time went.
    const events: Record<string, number> = {};
    // And how long one in ten took from its append to the bus: the relay's lag under the load
    // (parsing every event would load the simulator's event loop, which this process shares).
    const lags: number[] = [];
    let seen = 0;
    const counter = grid.nc.subscribe(grid.topology.subject('evt.>'), {
      callback: (_error, msg) => {
        const type = msg.subject.split('.').slice(-2).join('.');
        events[type] = (events[type] ?? 0) + 1;
        if (seen++ % 10 === 0) lags.push(Date.now() - Date.parse(msg.json<{ time: string }>().time));
      },
    });
    const killedAt = performance.now();
    const killed = simulator.fault('kill', KILLS, { among: [...hosting.keys()] });
    const lostHere: Lost = new Map(killed.map((nodeId) => [nodeId, hosting.get(nodeId)!]));
    const lost = [...lostHere.values()].reduce((sum, apps) => sum + [...apps.values()].reduce((a, b) => a + b, 0), 0);
    progress(`scale: ${killed.length} nodes killed with ${lost} replicas; waiting up to ${SCALE_WAIT_S} s`);
    let note: string | undefined;
    const timer = setInterval(() => {
      const closed = killed.filter((nodeId) => closedAfter(grid.heard, nodeId, killedAt)).length;
      const suspected = killed.filter((nodeId) => suspectedAfter(grid.heard, nodeId, killedAt) !== undefined).length;
      progress(`scale: after ${Math.round((performance.now() - killedAt) / 1000)} s: ${suspected}/${killed.length} suspected, ${closed}/${killed.length} rounds closed, ${grid.heard.healthy.filter((event) => event.at >= killedAt).length}/${lost} replacements healthy`);
    }, 10_000);
    await waitFor(() => complete(grid.heard, killedAt, lostHere), SCALE_WAIT_S * 1000, 'every figure at scale').catch((error: Error) => {
      note = error.message;
    });
    clearInterval(timer);
    counter.unsubscribe();
    const elapsed = (performance.now() - killedAt) / 1000;
    const cpu: Record<string, number> = {};
    for (const [name, service] of grid.services) cpu[name] = ((cpuSeconds(service.child.pid!) - cpuBefore.get(name)!) / elapsed) * 100;
    const self = process.cpuUsage(selfBefore);
    cpu['simulator + bench'] = ((self.user + self.system) / 1e6 / elapsed) * 100;
    collect(figures, grid.heard, killedAt, lostHere);
    const relayLagMs = { p50: percentile(lags, 50), p99: percentile(lags, 99) };
    return { ...figures, nodes: NODES, apps: APPS, deployS, cpu, events, relayLagMs, ...(note ? { note } : {}) };
  } finally {
    await simulator.stop();
    await endpoint.close();
    await grid.close();
  }
}

const ms = (value: number) => (Number.isNaN(value) ? '—' : value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);
const tally = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([key, count]) => `${count} ${key}`)
    .join(', ') || 'none';

function describe(title: string, facts: string, figures: Figures): string[] {
  const row = (name: string, values: number[], missing: number, of: number) =>
    `  ${name.padEnd(34)}${ms(percentile(values, 50)).padStart(10)}${ms(percentile(values, 99)).padStart(10)}   ${values.length}/${of}${missing > 0 ? ` (${missing} never came)` : ''}`;
  const p50 = percentile(figures.healthyMs, 50);
  return [
    title,
    `  ${facts}`,
    '',
    `  ${'from the kill to'.padEnd(34)}${'p50'.padStart(10)}${'p99'.padStart(10)}   n`,
    row('detection (node-suspected)', figures.detectionMs, figures.missing.detection, figures.killed),
    row('consensus outcome (round-closed)', figures.outcomeMs, figures.missing.outcome, figures.killed),
    row('replacements healthy', figures.healthyMs, figures.missing.healthy, figures.lost),
    '',
    `  outcomes: ${tally(figures.outcomes)}; offences counted in those rounds: ${tally(figures.offences)}`,
    Number.isNaN(p50)
      ? '  no replacement became healthy: no ratio against the 5 s aim'
      : `  time to healthy p50 ${ms(p50)} = ${(p50 / AIM_MS).toFixed(2)} of the 5 s aim (${p50 <= AIM_MS ? 'met' : 'MISSED'}); ` +
        PEERS.map((peer) => `${peer.name} ~${peer.ms / 1000} s (${(peer.ms / p50).toFixed(0)}× ours)`).join(', '),
  ];
}

const results: Record<string, unknown> = {};
const lines: string[] = [];
if (PART === 'all' || PART === 'real') {
  const real = await realPart();
  results.real = real;
  lines.push(
    ...describe(
      `Healing with real processes: ${real.runs} runs`,
      `${SERVICES.join(', ')} and ${real.agents} node agents as processes, PostgreSQL; heartbeats ${HEARTBEAT_MS} ms, suspected after 3 misses, round 400/400 ms; an agent SIGKILLed with its replicas each run`,
      real,
    ),
    '',
  );
}
if (PART === 'all' || PART === 'scale') {
  const figures = await scalePart();
  results.scale = figures;
  lines.push(
    ...describe(
      `Healing at scale: ${figures.nodes} simulated nodes, ${KILLS} holding replicas killed at once`,
      `${figures.apps} apps × 2 replicas deployed in ${figures.deployS.toFixed(0)} s; heartbeats ${SCALE_HEARTBEAT_MS} ms, round 500/500 ms; each round asks a committee of ${COMMITTEE} drawn by trust from the alive nodes (2/3 of its weight decides)`,
      figures,
    ),
    `  CPU from the kill on (% of a core): ${Object.entries(figures.cpu)
      .map(([name, value]) => `${name} ${value.toFixed(0)}%`)
      .join(', ')}`,
    `  events from the kill on: ${Object.entries(figures.events)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([type, count]) => `${count} ${type}`)
      .join(', ')}`,
    `  from an event's append to the bus: p50 ${ms(figures.relayLagMs.p50)}, p99 ${ms(figures.relayLagMs.p99)}`,
    ...(figures.note ? [`  stopped waiting: ${figures.note}`] : []),
    '',
  );
}
lines.push(`  Peers: ${PEERS.map((peer) => `${peer.name} ~${peer.ms / 1000} s (${peer.how})`).join('; ')}.`, '');
process.stdout.write(json ? `${JSON.stringify(results, null, 2)}\n` : `${lines.join('\n')}\n`);
