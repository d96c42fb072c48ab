import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IngressProxy, StaticRouteSource } from '@mycelium/gateway';
import type { LoadResult, LoadRun } from './http-load.worker.js';
import { json } from './report.js';

export interface IngressBenchOptions {
  /** Concurrent connections of the load generator, the same for every target; default 50. */
  connections?: number;
  /** Measured seconds per target; default BENCH_SECONDS or 5. */
  seconds?: number;
  /** Unmeasured seconds before each measurement; default 1. */
  warmUpSeconds?: number;
  /** Rounds over every target, each figure the median of its rounds; default BENCH_ROUNDS or 3. */
  rounds?: number;
  /** Compare with nginx (installed with apt-get when missing and run as root); default true. */
  nginx?: boolean;
  /** Where progress goes; default stderr. */
  progress?: (text: string) => void;
}

export interface TargetResult extends LoadResult {
  name: string;
}

export interface IngressBenchResult {
  connections: number;
  seconds: number;
  rounds: number;
  cpus: number;
  nginxVersion?: string;
  /** Why nginx was left out, when it was. */
  nginxMissing?: string;
  targets: TargetResult[];
  /** Requests/s of the ingress over those of the other target (1 and 3 replicas). */
  ratios: { name: string; value: number; target?: number; met?: boolean }[];
}

/** What the benchmark's app answers: a small JSON body. */
const APP_SCRIPT = `
const http = require('node:http');
const body = Buffer.from('{"hello":"from a replica"}');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
// Longer than the proxies keep idle upstream connections, so neither meets a connection closing under it.
server.keepAliveTimeout = 75000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;
const INGRESS_TARGET_RATIO = 0.5;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts one replica of the app as a process of its own; resolves with the process and its port. */
async function startApp(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', APP_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the benchmark app exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(Number(line)));
  });
  return { child, port };
}

/**
 * The least a proxy on node:http can do: pass the request on through a keep-alive agent and pipe the
 * answer back, nothing else. It shows how much of the distance to nginx is Node's own.
 */
async function startBareProxy(upstreamPort: number): Promise<http.Server> {
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256 });
  const server = http.createServer((req, res) => {
    const upstream = http.request({ agent, host: '127.0.0.1', port: upstreamPort, method: req.method, path: '/', headers: req.rawHeaders }, (response) => {
      res.writeHead(response.statusCode!, response.rawHeaders);
      response.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.on('close', () => agent.destroy());
  return server;
}

/** One load run on a worker thread. */
function load(run: LoadRun): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./http-load.worker.js', import.meta.url), { workerData: run });
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`the load worker exited with ${code}`)));
  });
}

/** The nginx binary, installing it with apt-get when it is missing and this process may; else why not. */
function findNginx(progress: (text: string) => void): { path: string } | { missing: string } {
  const known = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((path) => existsSync(path));
  if (known) return { path: known };
  const onPath = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return { path: onPath };
  if (process.getuid?.() !== 0) return { missing: 'nginx is not installed; install it (Debian/Ubuntu: sudo apt-get install -y nginx) to compare with it' };
  progress('nginx is missing: installing it with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx'], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  let installed = install();
  if (installed.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    installed = install();
  }
  if (installed.status !== 0 || !existsSync('/usr/sbin/nginx')) return { missing: `apt-get could not install nginx: ${installed.stderr?.trim().split('\n').at(-1) ?? 'no output'}` };
  return { path: '/usr/sbin/nginx' };
}

/**
 * nginx as a reverse proxy for the same app, set up as the ingress is: one worker (the ingress is one
 * event loop), keep-alive upstream connections, the same X-Forwarded headers, no access log.
 */
async function startNginx(binary: string, upstreams: { one: number[]; three: number[] }): Promise<{ child: ChildProcess; port: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const port = await freePort();
  const upstream = (name: string, ports: number[]) =>
    `    upstream ${name} {\n${ports.map((p) => `      server 127.0.0.1:${p};`).join('\n')}\n      keepalive 64;\n    }`;
  const location = (name: string) => `      location /apps/bench/${name}/ {
        proxy_pass http://${name}/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $proxy_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
      }`;
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${upstream('one', upstreams.one)}
${upstream('three', upstreams.three)}
    server {
      listen 127.0.0.1:${port};
${location('one')}
${location('three')}
    }
}
`,
  );
  const child = spawn(binary, ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}; see ${dir}/error.log`);
    const up = await fetch(`http://127.0.0.1:${port}/apps/bench/one/`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`nginx did not answer on port ${port} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, port, dir };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * Requests/s and p50/p99 latency of the same small app reached directly, through the ingress (one
 * replica and three), through the barest node:http proxy, and through nginx set up as the ingress
 * is, with the same load generator, connections and duration, in one run. The proxies and each replica run on event loops of
 * their own (the ingress in this thread, nginx and the replicas as processes, the load on a worker).
 */
export async function runIngressBench(options: IngressBenchOptions = {}): Promise<IngressBenchResult> {
  const connections = options.connections ?? 50;
  const seconds = options.seconds ?? Number(process.env.BENCH_SECONDS ?? 5);
  const warmUpSeconds = options.warmUpSeconds ?? 1;
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const progress = options.progress ?? ((text: string) => process.stderr.write(`  … ${text}\n`));
  const children: ChildProcess[] = [];
  let proxy: IngressProxy | undefined;
  let bare: http.Server | undefined;
  let nginxDir: string | undefined;
  try {
    progress('starting 3 replicas of the app');
    const apps = await Promise.all([startApp(), startApp(), startApp()]);
    children.push(...apps.map((app) => app.child));
    const replicas = apps.map((app, index) => ({ replicaId: `replica-${index + 1}`, nodeId: `node-${index + 1}`, address: `127.0.0.1:${app.port}`, weight: 1 }));
    const source = new StaticRouteSource([
      { appId: 'app_bench00000001', tenant: 'bench', name: 'one', strategy: 'round-robin', replicas: replicas.slice(0, 1) },
      { appId: 'app_bench00000003', tenant: 'bench', name: 'three', strategy: 'round-robin', replicas },
    ]);
    proxy = new IngressProxy({ source });
    const ingressPort = await proxy.listen(0);
    bare = await startBareProxy(apps[0]!.port);

    const targets: { name: string; url: string }[] = [
      { name: 'direct to the app', url: `http://127.0.0.1:${apps[0]!.port}/` },
      { name: 'ingress, 1 replica', url: `http://127.0.0.1:${ingressPort}/apps/bench/one/` },
      { name: 'ingress, 3 replicas', url: `http://127.0.0.1:${ingressPort}/apps/bench/three/` },
      { name: 'bare node:http proxy, 1 replica', url: `http://127.0.0.1:${(bare.address() as AddressInfo).port}/` },
    ];
    let nginxVersion: string | undefined;
    let nginxMissing: string | undefined;
    if (options.nginx ?? true) {
      const found = findNginx(progress);
      if ('missing' in found) nginxMissing = found.missing;
      else {
        nginxVersion = spawnSync(found.path, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '') || 'nginx';
        const nginx = await startNginx(found.path, { one: [apps[0]!.port], three: apps.map((app) => app.port) });
        children.push(nginx.child);
        nginxDir = nginx.dir;
        targets.push(
          { name: 'nginx, 1 replica', url: `http://127.0.0.1:${nginx.port}/apps/bench/one/` },
          { name: 'nginx, 3 replicas', url: `http://127.0.0.1:${nginx.port}/apps/bench/three/` },
        );
      }
    } else nginxMissing = 'left out by option';

    // Rounds over all targets rather than one target at a time: a disturbance of the machine then
    // touches every target alike, and the median drops it.
    const samples = new Map<string, LoadResult[]>(targets.map((target) => [target.name, []]));
    for (let round = 1; round <= rounds; round += 1) {
      for (const target of targets) {
        progress(`round ${round}/${rounds}, ${target.name}: ${connections} connections, ${seconds} s`);
        const result = await load({ url: target.url, connections, seconds, warmUpSeconds });
        if (result.errors > 0 || result.non2xx > 0) throw new Error(`${target.name}: ${result.errors} errors and ${result.non2xx} answers other than 2xx`);
        samples.get(target.name)!.push(result);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const results: TargetResult[] = targets.map(({ name }) => {
      const runs = samples.get(name)!;
      const of = (field: keyof LoadResult) => median(runs.map((run) => run[field]));
      return {
        name,
        requestsPerSecond: of('requestsPerSecond'),
        p50Ms: of('p50Ms'),
        p99Ms: of('p99Ms'),
        requests: runs.reduce((sum, run) => sum + run.requests, 0),
        errors: 0,
        timeouts: runs.reduce((sum, run) => sum + run.timeouts, 0),
        non2xx: 0,
      };
    });
    const rps = (name: string) => results.find((result) => result.name === name)?.requestsPerSecond;
    const ratio = (name: string, ours: string, theirs: string, target?: number) => {
      const [a, b] = [rps(ours), rps(theirs)];
      if (a === undefined || b === undefined) return [];
      const value = a / b;
      return [{ name, value, ...(target !== undefined ? { target, met: value >= target } : {}) }];
    };
    return {
      connections,
      seconds,
      rounds,
      cpus: cpus().length,
      ...(nginxVersion ? { nginxVersion } : {}),
      ...(nginxMissing ? { nginxMissing } : {}),
      targets: results,
      ratios: [
        ...ratio('ingress / direct, 1 replica', 'ingress, 1 replica', 'direct to the app'),
        ...ratio('ingress / bare node:http proxy', 'ingress, 1 replica', 'bare node:http proxy, 1 replica'),
        ...ratio('ingress / nginx, 1 replica', 'ingress, 1 replica', 'nginx, 1 replica', INGRESS_TARGET_RATIO),
        ...ratio('ingress / nginx, 3 replicas', 'ingress, 3 replicas', 'nginx, 3 replicas', INGRESS_TARGET_RATIO),
      ],
    };
  } finally {
    await proxy?.close();
    if (bare) {
      const closed = new Promise((resolve) => bare!.close(resolve));
      bare.closeAllConnections();
      await closed;
    }
    await Promise.all(children.map(stop));
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  }
}

/** The result as the table the other benchmarks print. */
export function formatIngressBench(result: IngressBenchResult): string {
  const number = (value: number) => Math.round(value).toLocaleString('en-US');
  const width = Math.max(...result.targets.map((target) => target.name.length), ...result.ratios.map((ratio) => ratio.name.length)) + 2;
  return [
    'Ingress: requests/s and latency through the gateway’s proxy, against the app directly and nginx',
    `  ${result.connections} connections for ${result.seconds} s per target and round, median of ${result.rounds} rounds (autocannon on its own thread), a small JSON answer, ` +
      `Node ${process.version}, ${result.nginxVersion ? `${result.nginxVersion} with 1 worker` : 'no nginx'}, ${result.cpus} CPUs`,
    '',
    `  ${'target'.padEnd(width)}${'requests/s'.padStart(12)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}`,
    ...result.targets.map((target) => `  ${target.name.padEnd(width)}${number(target.requestsPerSecond).padStart(12)}${String(target.p50Ms).padStart(9)}${String(target.p99Ms).padStart(9)}`),
    '',
    ...result.ratios.map(
      (ratio) => `  ${ratio.name.padEnd(width)}${ratio.value.toFixed(2).padStart(12)}${ratio.target !== undefined ? `   target ≥ ${ratio.target.toFixed(2)} ${ratio.met ? 'met' : 'MISSED'}` : ''}`,
    ),
    ...(result.nginxMissing ? ['', `  nginx left out: ${result.nginxMissing}.`] : []),
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runIngressBench();
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(formatIngressBench(result));
    const missed = result.ratios.filter((ratio) => ratio.met === false);
    process.stdout.write(missed.length === 0 ? 'every target met\n' : 'some targets were missed\n');
  }
}
