import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { GRID_SERVICES, IssueApiKey } from '@mycelium/contracts';
import { initNetwork, loadNetwork, type Network, networkExists, writeSecretFile } from '@mycelium/identity';
import { CommandClient, connectNats, type GridConfig, hostServices, Topology } from '@mycelium/messaging';
import { createLogger, startTracing } from '@mycelium/telemetry';
import { gridServices } from '../grid-services.js';
import { stopOnExit } from './children.js';
import { type LocalAgents, startLocalAgents } from './agents.js';
import { LogSink } from './log-sink.js';
import { type GridNats, provideNats } from './nats.js';

export interface UpOptions {
  config: GridConfig;
  /** Services listen on portBase+1 … portBase+6; 0 picks free ports. */
  portBase: number;
  logFormat: 'human' | 'json';
  out: NodeJS.WritableStream;
  /** Called when a service process dies after the grid came up (one process per service). */
  onServiceExit?: (name: string, code: number | string | null) => void;
  /** Local node agents to start. */
  nodes: number;
  /** Called when a local agent dies: a node failure, which the grid is there to survive. */
  onNodeExit?: (name: string, code: number | string | null) => void;
}

export interface RunningGrid {
  natsUrl: string;
  natsStartedHere: boolean;
  network: { id: string; secured: boolean };
  nodeIds: string[];
  /** The REST API, and the admin key `myc up` keeps in credentials.json. */
  api: { url: string; key: string; credentialsFile: string };
  /** Where the ingress serves apps: <app>.<tenant>.localhost on its port, or /apps/<tenant>/<app>/. */
  ingress: string;
  store: string;
  services: { name: string; url: string }[];
  logFile: string;
  stop(): Promise<void>;
}

/** The file other `myc` commands read to find the running local grid. */
export function gridFile(home: string): string {
  return join(home, 'grid.json');
}

/** Where the grid's services and agents log, every line as JSON. */
export function gridLogFile(home: string): string {
  return join(home, 'logs', 'grid.log');
}

/** How long `myc up` waits for the gateway to load the API keys before it checks its own. */
const GATEWAY_READY_MS = 60_000;

function portsFor(base: number): Record<string, number> {
  return {
    ...Object.fromEntries(GRID_SERVICES.map((service, i) => [service, base === 0 ? 0 : base + i + 1])),
    gateway: base === 0 ? 0 : Number(process.env.MYCELIUM_GATEWAY_PORT || 8080),
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/**
 * Starts the whole local grid: NATS (given or started here), then the services, in this process
 * on the embedded store, or one process each on PostgreSQL (docs/adr/0004).
 */
export async function startGrid(options: UpOptions): Promise<RunningGrid> {
  const { config } = options;
  claimHome(config.home);
  const sink = new LogSink(gridLogFile(config.home), options.out, options.logFormat);
  // A service that dies while the grid is still starting ends the start: nothing waits on it.
  const serviceDied = new AbortController();
  const onServiceExit = (name: string, code: number | string | null) => {
    serviceDied.abort(new Error(`${name} exited unexpectedly (${code}) while the grid was starting; stopped the grid (see ${sink.path})`));
    options.onServiceExit?.(name, code);
  };
  let nats: GridNats | undefined;
  let running: Started | undefined;
  let agents: LocalAgents | undefined;
  let agentsStarting: Promise<LocalAgents> | undefined;
  try {
    const network = await networkOf(config);
    // A nats-server we start runs in operator mode: agents get credentials scoped to their own subjects.
    const creds = config.natsCreds ?? (config.natsUrl ? undefined : network.servicesCreds);
    nats = await provideNats({
      home: config.home,
      url: config.natsUrl,
      creds,
      config: network.nats ? (port, storeDir) => network.nats!.serverConfig({ host: '127.0.0.1', port, storeDir }) : undefined,
    });
    const gridConfig: GridConfig = { ...config, natsUrl: nats.url, ...(creds ? { natsCreds: creds } : {}) };
    // In-process services read these (the spores service: the network and the NATS it advertises).
    process.env.MYCELIUM_HOME = config.home;
    process.env.MYCELIUM_NETWORK_DIR = network.dir;
    process.env.MYCELIUM_ADVERTISED_NATS = nats.url;
    // The ingress port is chosen here, so the summary and grid.json can name it (services may run elsewhere).
    const ingressPort = await ingressPortFor(options.portBase);
    process.env.MYCELIUM_INGRESS_PORT = String(ingressPort);
    running = config.databaseUrl
      ? await startProcesses(gridConfig, network, portsFor(options.portBase), sink, onServiceExit)
      : await startInProcess(gridConfig, portsFor(options.portBase), sink);
    const gatewayUrl = running.services.find((service) => service.name === 'gateway')!.url;
    const api = await unlessAborted(adminKey(config.home, gatewayUrl, gridConfig, sink, serviceDied.signal), serviceDied.signal);
    agentsStarting = startLocalAgents({
      count: options.nodes,
      home: config.home,
      network,
      natsUrl: nats.url,
      namespace: config.namespace,
      sink,
      onExit: (name, code) => options.onNodeExit?.(name, code),
    });
    agents = await unlessAborted(agentsStarting, serviceDied.signal);
    serviceDied.signal.throwIfAborted();
    const started = running;
    const startedAgents = agents;
    const grid: RunningGrid = {
      natsUrl: nats.url,
      natsStartedHere: Boolean(nats.child),
      network: { id: network.info.networkId, secured: Boolean(creds) },
      nodeIds: agents.nodeIds,
      api,
      ingress: `http://${config.host}:${ingressPort}`,
      store: config.databaseUrl ? `PostgreSQL ${redact(config.databaseUrl)}` : `embedded PGlite in ${join(config.home, 'data', 'pglite')}`,
      services: running.services,
      logFile: sink.path,
      stop: async () => {
        try {
          await startedAgents.stop();
          await started.stop();
        } finally {
          rmSync(gridFile(config.home), { force: true });
          await nats?.stop();
          await sink.close();
        }
      },
    };
    mkdirSync(config.home, { recursive: true });
    writeFileSync(
      gridFile(config.home),
      `${JSON.stringify(
        {
          pid: process.pid,
          natsUrl: nats.url,
          namespace: config.namespace,
          network: grid.network.id,
          services: Object.fromEntries(grid.services.map((service) => [service.name, service.url])),
          nodes: grid.nodeIds,
          gateway: grid.api.url,
          ingress: grid.ingress,
        },
        null,
        2,
      )}\n`,
    );
    return grid;
  } catch (error) {
    await agents?.stop().catch(() => undefined);
    // Agents still joining are stopped once they settle, or with this process (stopOnExit).
    if (!agents) void agentsStarting?.then((late) => late.stop()).catch(() => undefined);
    await running?.stop().catch(() => undefined);
    rmSync(gridFile(config.home), { force: true });
    await nats?.stop();
    await sink.close();
    throw serviceDied.signal.aborted ? serviceDied.signal.reason : error;
  }
}

/** `work`, unless `signal` aborts first: then its reason. */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The admin key of the REST API: the one in credentials.json unless the gateway definitely does
 * not know it, otherwise a new one, issued over NATS with the operator's credentials and written
 * there (0600). Only a 401 from a gateway that has loaded every key is definite: a 401 before
 * that, a 503 or a gateway that does not answer says nothing about the key, and every needless
 * reissue would leave another admin key that never expires.
 */
async function adminKey(home: string, gatewayUrl: string, config: GridConfig, sink: LogSink, signal: AbortSignal): Promise<RunningGrid['api']> {
  const credentialsFile = join(home, 'credentials.json');
  const saved = existsSync(credentialsFile) ? (JSON.parse(readFileSync(credentialsFile, 'utf8')) as { apiKey?: string }).apiKey : undefined;
  if (saved) {
    const kept = { url: gatewayUrl, key: saved, credentialsFile };
    if (!(await gatewayReady(gatewayUrl, signal))) {
      sink.line(`myc: the gateway did not get ready within ${GATEWAY_READY_MS / 1000} s; kept the admin key in ${credentialsFile} without checking it`);
      return kept;
    }
    const probe = await fetch(`${gatewayUrl}/v1/nodes?limit=1`, { headers: { authorization: `Bearer ${saved}` }, signal }).catch((error: unknown) => error as Error);
    if (probe instanceof Error || probe.status !== 401) {
      if (probe instanceof Error || !probe.ok) {
        sink.line(`myc: could not check the admin key in ${credentialsFile} (${probe instanceof Error ? probe.message : `HTTP ${probe.status}`}); kept it`);
      }
      return kept;
    }
    sink.line(`myc: the gateway does not know the admin key in ${credentialsFile} (a new event store?): issuing a new one`);
  }
  const nc = await connectNats({ url: config.natsUrl!, name: 'myc-up', creds: config.natsCreds });
  try {
    const reply = await new CommandClient(nc, new Topology(config.namespace)).send(IssueApiKey, { name: 'admin (myc up)', scopes: ['admin'] });
    if (!reply.ok) throw new Error(`could not issue the admin API key: ${reply.error.message}`);
    writeSecretFile(credentialsFile, `${JSON.stringify({ apiKey: reply.result.key, keyId: reply.result.keyId, gateway: gatewayUrl }, null, 2)}\n`);
    return { url: gatewayUrl, key: reply.result.key, credentialsFile };
  } finally {
    await nc.close();
  }
}

/** Waits for the gateway's /readyz: true once it has loaded every API key, false after GATEWAY_READY_MS. */
async function gatewayReady(gatewayUrl: string, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + GATEWAY_READY_MS;
  for (;;) {
    const response = await fetch(`${gatewayUrl}/readyz`, { signal }).catch(() => undefined);
    if (response?.ok) return true;
    if (Date.now() >= deadline) return false;
    await sleep(200, undefined, { signal });
  }
}

/** The grid's network: the one in its home, or a new one (secured) on first start. */
async function networkOf(config: GridConfig): Promise<Network> {
  const dir = process.env.MYCELIUM_NETWORK_DIR || join(config.home, 'network');
  return networkExists(dir) ? loadNetwork(dir) : initNetwork(dir, { secured: true });
}

/**
 * One grid per home directory: a second `myc up` there would take over the first one's NATS data
 * and embedded store. The grid file names the `myc` that owns the directory while it runs.
 */
function claimHome(home: string): void {
  const file = gridFile(home);
  if (existsSync(file)) {
    const owner = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: number }).pid;
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new Error(`a grid is already running from ${home} (myc, pid ${owner}): stop it, or set MYCELIUM_HOME to run another`);
    }
  }
  mkdirSync(home, { recursive: true });
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, starting: true })}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Started {
  services: { name: string; url: string }[];
  stop(): Promise<void>;
}

async function startInProcess(config: GridConfig, ports: Record<string, number>, sink: LogSink): Promise<Started> {
  const logger = createLogger({ name: 'grid', destination: sink.stream() });
  const stopTracing = startTracing({ serviceName: 'mycelium-grid' });
  try {
    const hosted = await hostServices(gridServices, { config, logger, ports });
    return {
      services: hosted.services.map((service) => ({ name: service.name, url: `http://${config.host}:${service.port}` })),
      stop: async () => {
        await hosted.stop('signal');
        await stopTracing();
      },
    };
  } catch (error) {
    await stopTracing();
    throw error;
  }
}

async function startProcesses(
  config: GridConfig,
  network: Network,
  ports: Record<string, number>,
  sink: LogSink,
  onServiceExit: UpOptions['onServiceExit'],
): Promise<Started> {
  const children: { name: string; child: ChildProcess; exited: Promise<unknown> }[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => children.forEach(({ child }) => child.exitCode === null && child.kill('SIGKILL')), 10_000);
    await Promise.all(children.map(({ exited }) => exited));
    clearTimeout(timer);
  };
  try {
    for (const definition of gridServices) {
      const main = join(dirname(fileURLToPath(import.meta.resolve(`@mycelium/${definition.name}`))), 'main.js');
      const child = spawn(process.execPath, [main], {
        env: {
          ...process.env,
          NATS_URL: config.natsUrl,
          DATABASE_URL: config.databaseUrl,
          MYCELIUM_HOME: config.home,
          MYCELIUM_DB_SCHEMA: config.schema,
          MYCELIUM_NAMESPACE: config.namespace,
          HOST: config.host,
          PORT: String(ports[definition.name] ?? 0),
          MYCELIUM_NETWORK_DIR: network.dir,
          MYCELIUM_ADVERTISED_NATS: config.natsUrl,
          ...(config.natsCreds ? { NATS_CREDS: process.env.NATS_CREDS || join(network.dir, 'services.creds') } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      stopOnExit(child);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // From the start: one that dies while the others are still coming up matters as much.
      child.once('exit', (code, signal) => {
        if (!stopping) onServiceExit?.(definition.name, code ?? signal);
      });
      for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (line) => sink.line(line));
      children.push({ name: definition.name, child, exited });
    }
    const services = await Promise.all(children.map(({ name, child }) => waitUntilUp(name, child, sink)));
    return { services, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The ingress port: MYCELIUM_INGRESS_PORT, else 8081, else (free ports asked for, or 8081 taken) a free one. */
async function ingressPortFor(portBase: number): Promise<number> {
  const given = process.env.MYCELIUM_INGRESS_PORT?.trim();
  if (given && given !== '0') return Number(given);
  if (portBase !== 0 && (await portIsFree(8081))) return 8081;
  return freePort();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Waits for a service process to log that it is up, and reads its port from that line. */
function waitUntilUp(name: string, child: ChildProcess, sink: LogSink): Promise<{ name: string; url: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not come up within 60 s (see ${sink.path})`)), 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === `${name} is up` && entry.port) {
          clearTimeout(timer);
          resolve({ name, url: `http://${process.env.HOST || '127.0.0.1'}:${entry.port}` });
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} while starting (see ${sink.path})`));
    });
  });
}
