import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
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
  store: string;
  services: { name: string; url: string }[];
  logFile: string;
  stop(): Promise<void>;
}

/** The file other `myc` commands read to find the running local grid. */
export function gridFile(home: string): string {
  return join(home, 'grid.json');
}

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
  const sink = new LogSink(join(config.home, 'logs', 'grid.log'), options.out, options.logFormat);
  let nats: GridNats | undefined;
  let running: Started | undefined;
  let agents: LocalAgents | undefined;
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
    running = config.databaseUrl
      ? await startProcesses(gridConfig, network, portsFor(options.portBase), sink, options.onServiceExit)
      : await startInProcess(gridConfig, portsFor(options.portBase), sink);
    const api = await adminKey(config.home, running.services.find((service) => service.name === 'gateway')!.url, gridConfig);
    agents = await startLocalAgents({
      count: options.nodes,
      home: config.home,
      network,
      natsUrl: nats.url,
      namespace: config.namespace,
      sink,
      onExit: (name, code) => options.onNodeExit?.(name, code),
    });
    const started = running;
    const startedAgents = agents;
    const grid: RunningGrid = {
      natsUrl: nats.url,
      natsStartedHere: Boolean(nats.child),
      network: { id: network.info.networkId, secured: Boolean(creds) },
      nodeIds: agents.nodeIds,
      api,
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
        },
        null,
        2,
      )}\n`,
    );
    return grid;
  } catch (error) {
    await agents?.stop().catch(() => undefined);
    await running?.stop().catch(() => undefined);
    rmSync(gridFile(config.home), { force: true });
    await nats?.stop();
    await sink.close();
    throw error;
  }
}

/**
 * The admin key of the REST API: the one in credentials.json if the gateway still knows it,
 * otherwise a new one, issued over NATS with the operator's credentials and written there (0600).
 */
async function adminKey(home: string, gatewayUrl: string, config: GridConfig): Promise<RunningGrid['api']> {
  const credentialsFile = join(home, 'credentials.json');
  if (existsSync(credentialsFile)) {
    const saved = JSON.parse(readFileSync(credentialsFile, 'utf8')) as { apiKey?: string };
    if (saved.apiKey) {
      const probe = await fetch(`${gatewayUrl}/v1/nodes?limit=1`, { headers: { authorization: `Bearer ${saved.apiKey}` } }).catch(() => undefined);
      if (probe?.ok) return { url: gatewayUrl, key: saved.apiKey, credentialsFile };
    }
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
      for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (line) => sink.line(line));
      children.push({ name: definition.name, child, exited });
    }
    const services = await Promise.all(children.map(({ name, child }) => waitUntilUp(name, child, sink)));
    for (const { name, child } of children) {
      child.once('exit', (code, signal) => {
        if (!stopping) onServiceExit?.(name, code ?? signal);
      });
    }
    return { services, stop };
  } catch (error) {
    await stop();
    throw error;
  }
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
