import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, createWriteStream, mkdirSync, readdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import type { LimitEnforcement, LogLine, ReplicaReport, StartReplica } from '@mycelium/contracts/workloads';
import type { Logger } from '@mycelium/telemetry/logger';
import { DEFAULT_RESTART_BACKOFF, type RestartBackoff } from './backoff.js';
import { checkHealth } from './health-check.js';
import { chooseLimits, type LimitPlan, probeLimitFacts, ReplicaCgroups, rlimitArgv } from './limits.js';
import { LineSplitter, LogRing } from './log-ring.js';
import { isStillRunning, processStartTime, readPidFile, removePidFile, writePidFile } from './pid-file.js';
import { evolveReplica, hasEnded, initialStatus, isRunning, type ReplicaEvent, type ReplicaStatus } from './replica-lifecycle.js';
import { buildReport, ENDED_RETENTION_MS, formatAddress, type ReplicaView } from './report.js';

export interface ProcessRuntimeOptions {
  /** The agent's data dir: replicas live in `<dataDir>/workloads/<replicaId>`. */
  dataDir: string;
  /** The host replicas' addresses name; default 127.0.0.1. */
  host?: string;
  /** The user replicas run as; default `nobody` (65534) when the agent runs as root, else the agent's own. */
  runAs?: { uid: number; gid: number } | null;
  backoff?: RestartBackoff;
  /** A run this long resets the backoff; default 30 s. */
  stableAfterMs?: number;
  /** How long stopped and failed replicas stay in reports; default a minute. */
  retentionMs?: number;
  /** Lines of output kept in memory per replica; default 5000. */
  logLines?: number;
  /** Bytes of a replica's log file before it is rotated to `replica.log.1`; default 8 MiB. */
  logFileBytes?: number;
  /** How replicas are held to their resources; default: what this machine offers. */
  limits?: LimitPlan;
  /** What an rlimit adds to a replica's memory for what it reserves but does not use; default 64 MiB. */
  rlimitAllowanceMiB?: number;
  logger: Logger;
}

const NOBODY = { uid: 65534, gid: 65534 };
const LEFTOVER_KILL_WAIT_MS = 5000;
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** A replica the runtime could not start at all: a retry would not help. */
class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}

/** Appends a replica's output to `replica.log` in its directory, rotating it at a size. */
class LogFile {
  #stream: WriteStream | undefined;
  #bytes = 0;
  #broken = false;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
    private readonly onError: (error: Error) => void,
  ) {}

  write(entry: LogLine): void {
    if (this.#broken) return;
    const text = `${entry.at} ${entry.stream} ${entry.line}\n`;
    if (!this.#stream) this.#open();
    this.#bytes += Buffer.byteLength(text);
    if (this.#bytes > this.maxBytes) {
      this.#stream!.end();
      try {
        renameSync(this.path, `${this.path}.1`);
      } catch {
        // Written by the stream that just ended: at worst the next lines append to it.
      }
      this.#open();
      this.#bytes = Buffer.byteLength(text);
    }
    this.#stream!.write(text);
  }

  #open(): void {
    try {
      this.#bytes = statSync(this.path).size;
    } catch {
      this.#bytes = 0;
    }
    const stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 });
    stream.on('error', (error) => {
      // The in-memory lines go on; the file is given up, once.
      if (!this.#broken) this.onError(error);
      this.#broken = true;
    });
    this.#stream = stream;
  }

  close(): void {
    this.#stream?.end();
    this.#stream = undefined;
  }
}

interface Replica {
  spec: StartReplica;
  status: ReplicaStatus;
  /** The agent's files of the replica (pid file, log); the replica cannot write here. */
  dir: string;
  /** The replica's working directory, its user's own. */
  workDir: string;
  logs: LogRing;
  logFile: LogFile;
  limits: { memory: LimitEnforcement; cpu: LimitEnforcement };
  port?: number;
  child?: ChildProcess;
  pid?: number;
  /** The process answered HTTP on its port. */
  listening: boolean;
  /** Counts launches: async work of an earlier one finds a newer number and stops. */
  run: number;
  startedAt: number;
  stopReason?: string;
  /** The stop grace ran out and the process was killed. */
  forced: boolean;
  /** Resolves when the current process has exited and been dealt with. */
  exited?: Promise<void>;
  timers: { restart?: NodeJS.Timeout; check?: NodeJS.Timeout; kill?: NodeJS.Timeout; forget?: NodeJS.Timeout };
}

/**
 * Runs replicas as processes on this node: each in a directory of its own under the data dir, as
 * an unprivileged user when the agent is root, in a process group of its own (so a stop reaches
 * whatever it started), held to its resources where the machine allows, checked over HTTP, and
 * started again with a growing wait when it crashes. Start and stop are idempotent.
 */
export class ProcessRuntime {
  readonly #replicas = new Map<string, Replica>();
  readonly #listeners = new Set<() => void>();
  readonly #host: string;
  readonly #runAs: { uid: number; gid: number } | undefined;
  #plan: LimitPlan = { memory: 'none', cpu: 'none' };
  #cgroups: ReplicaCgroups | undefined;
  #opened: Promise<void> | undefined;
  #closed = false;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.#host = options.host ?? '127.0.0.1';
    this.#runAs = options.runAs === null ? undefined : (options.runAs ?? (process.getuid?.() === 0 ? NOBODY : undefined));
  }

  get workloadsDir(): string {
    return join(this.options.dataDir, 'workloads');
  }

  /** How replicas are held to their resources on this node (known once {@link open} has run). */
  get limits(): LimitPlan {
    return { ...this.#plan };
  }

  /** Learns how to hold replicas to their resources, and kills what a previous run of the agent left running. */
  open(): Promise<void> {
    this.#opened ??= this.#open();
    return this.#opened;
  }

  async #open(): Promise<void> {
    mkdirSync(this.workloadsDir, { recursive: true, mode: 0o700 });
    this.#plan = this.options.limits ?? chooseLimits(probeLimitFacts());
    if (this.#plan.cgroupRoot) {
      const cgroups = new ReplicaCgroups(this.#plan.cgroupRoot, this.#plan);
      try {
        cgroups.prepare();
        this.#cgroups = cgroups;
      } catch (error) {
        const fallback = chooseLimits({ ...probeLimitFacts(), cgroup2: false });
        this.options.logger.warn({ err: error, cgroup: this.#plan.cgroupRoot, limits: fallback }, 'cannot hand cgroup controllers down to replicas: holding them with rlimits instead');
        this.#plan = fallback;
      }
    }
    await this.#killLeftovers();
    this.options.logger.info({ limits: { memory: this.#plan.memory, cpu: this.#plan.cpu }, runAs: this.#runAs?.uid ?? process.getuid?.() }, 'workload runtime ready');
  }

  async #killLeftovers(): Promise<void> {
    for (const name of readdirSync(this.workloadsDir)) {
      const dir = join(this.workloadsDir, name);
      const record = readPidFile(dir);
      if (record && isStillRunning(record)) {
        signalGroup(record.pid, 'SIGKILL');
        const gone = await waitUntil(() => !isStillRunning(record), LEFTOVER_KILL_WAIT_MS);
        this.options.logger.warn({ replicaId: record.replicaId, replicaPid: record.pid, gone }, 'killed a replica that a previous run of the agent left running');
      }
      this.#cgroups?.remove(name, { kill: true });
      rmSync(dir, { recursive: true, force: true });
    }
    for (const replicaId of this.#cgroups?.leftovers() ?? []) this.#cgroups!.remove(replicaId, { kill: true });
  }

  /** Tells `listener` whenever what {@link report} says has changed. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Starts a replica, unless it runs already (or is starting, backing off or stopping): then
   * nothing changes. Returns whether it started.
   */
  start(spec: StartReplica): boolean {
    if (this.#closed) return false;
    const existing = this.#replicas.get(spec.replicaId);
    if (existing && !hasEnded(existing.status.state)) return false;
    if (existing) this.#forget(existing, { keepFiles: true });
    const dir = join(this.workloadsDir, spec.replicaId);
    const replica: Replica = {
      spec,
      status: initialStatus(Date.now()),
      dir,
      workDir: join(dir, 'work'),
      logs: new LogRing(this.options.logLines ?? 5000),
      logFile: new LogFile(join(dir, 'replica.log'), this.options.logFileBytes ?? 8 * 1024 * 1024, (error) =>
        this.options.logger.warn({ err: error, replicaId: spec.replicaId }, 'cannot write the replica’s log file: its output is kept in memory only'),
      ),
      limits: { memory: this.#plan.memory, cpu: this.#plan.cpu },
      listening: false,
      run: 0,
      startedAt: 0,
      forced: false,
      timers: {},
    };
    this.#replicas.set(spec.replicaId, replica);
    this.options.logger.info({ replicaId: spec.replicaId, app: spec.app, version: spec.version }, 'starting a replica');
    this.#changed();
    void this.#launch(replica);
    return true;
  }

  /** Stops a replica: SIGTERM to its process group, SIGKILL after its grace. An unknown or ended one is left as it is. */
  async stop(replicaId: string, reason: string): Promise<void> {
    const replica = this.#replicas.get(replicaId);
    if (!replica || hasEnded(replica.status.state)) return;
    if (replica.status.state === 'stopping') return replica.exited;
    clearTimeout(replica.timers.restart);
    clearTimeout(replica.timers.check);
    replica.stopReason = reason;
    this.#apply(replica, { type: 'stop-requested', at: Date.now(), reason });
    if (hasEnded(replica.status.state)) {
      this.#ended(replica);
      return;
    }
    const { child, pid } = replica;
    if (!child || pid === undefined) {
      // Launching: no process yet. The launch sees a newer run and gives up.
      replica.run += 1;
      this.#apply(replica, { type: 'exited', at: Date.now(), how: `stopped before it started (${reason})`, ranMs: 0 });
      this.#ended(replica);
      return;
    }
    const refused = signalGroup(pid, 'SIGTERM');
    if (refused) this.options.logger.warn({ err: refused, replicaId, replicaPid: pid }, 'cannot signal the replica to stop: killing it after its grace');
    replica.timers.kill = setTimeout(() => {
      replica.forced = true;
      const error = signalGroup(pid, 'SIGKILL');
      if (error) this.options.logger.error({ err: error, replicaId, replicaPid: pid }, 'cannot kill the replica');
    }, replica.spec.stopGraceMs);
    await replica.exited;
  }

  /** Stops every replica, and starts no more. */
  async stopAll(reason: string): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#replicas.keys()].map((replicaId) => this.stop(replicaId, reason)));
  }

  /** Stops every replica and lets go of timers and files. */
  async close(): Promise<void> {
    await this.stopAll('the agent is stopping');
    for (const replica of this.#replicas.values()) {
      clearTimeout(replica.timers.forget);
      replica.logFile.close();
    }
  }

  /** Every replica, stopped and failed ones for a while after they end. */
  report(now = Date.now()): ReplicaReport[] {
    return buildReport([...this.#replicas.values()].map((replica) => this.#view(replica)), now, this.options.retentionMs ?? ENDED_RETENTION_MS);
  }

  /** The newest `tail` lines of a replica's output, or undefined when the runtime does not know it. */
  logs(replicaId: string, tail: number): LogLine[] | undefined {
    return this.#replicas.get(replicaId)?.logs.tail(tail);
  }

  #view(replica: Replica): ReplicaView {
    return {
      spec: replica.spec,
      status: replica.status,
      limits: replica.limits,
      ...(replica.pid !== undefined ? { pid: replica.pid } : {}),
      ...(replica.listening && replica.port !== undefined ? { address: formatAddress(this.#host, replica.port) } : {}),
    };
  }

  /** One process of the replica: from its directory and port to a running, watched process. */
  async #launch(replica: Replica): Promise<void> {
    const run = ++replica.run;
    const current = () => this.#replicas.get(replica.spec.replicaId) === replica && replica.run === run && (replica.status.state === 'starting' || replica.status.state === 'backoff');
    try {
      await this.open();
      if (!current()) return;
      this.#prepareDirectories(replica);
      const env = this.#environment(replica);
      const program = resolveProgram(replica.spec.command[0]!, replica.workDir, env.PATH ?? DEFAULT_PATH);
      replica.port = await pickPort(replica.port, this.#portsTaken(replica));
      if (!current()) return;
      env.PORT = String(replica.port);
      const argv = this.#limitedArgv(replica, [program, ...replica.spec.command.slice(1)]);
      this.#spawn(replica, run, argv, env);
    } catch (error) {
      if (!current()) return;
      const reason = error instanceof LaunchError ? error.message : `cannot start: ${(error as Error).message}`;
      this.options.logger.warn({ err: error, replicaId: replica.spec.replicaId }, 'a replica could not start');
      this.#apply(replica, { type: 'spawn-failed', at: Date.now(), reason });
      if (hasEnded(replica.status.state)) this.#ended(replica);
    }
  }

  #prepareDirectories(replica: Replica): void {
    mkdirSync(replica.dir, { recursive: true, mode: 0o700 });
    mkdirSync(replica.workDir, { recursive: true, mode: 0o700 });
    if (this.#runAs) chownSync(replica.workDir, this.#runAs.uid, this.#runAs.gid);
  }

  /**
   * Only what the replica is given: the agent's own environment (its join token among it) stays
   * with the agent. PORT and MYCELIUM_* come last, so the app's env cannot set them.
   */
  #environment(replica: Replica): Record<string, string> {
    const { spec } = replica;
    return {
      PATH: process.env.PATH ?? DEFAULT_PATH,
      HOME: replica.workDir,
      ...spec.env,
      MYCELIUM_REPLICA_ID: spec.replicaId,
      MYCELIUM_APP: spec.app,
      MYCELIUM_APP_VERSION: spec.version,
    };
  }

  #portsTaken(replica: Replica): Set<number> {
    const taken = new Set<number>();
    for (const other of this.#replicas.values()) if (other !== replica && other.port !== undefined && !hasEnded(other.status.state)) taken.add(other.port);
    return taken;
  }

  /** The argv with the replica's limits, and the limits it will really have. */
  #limitedArgv(replica: Replica, command: string[]): string[] {
    const { resources } = replica.spec;
    let memory = this.#plan.memory;
    let cpu = this.#plan.cpu;
    if (this.#cgroups && (memory === 'cgroup' || cpu === 'cgroup')) {
      try {
        this.#cgroups.create(replica.spec.replicaId, resources);
      } catch (error) {
        this.options.logger.warn({ err: error, replicaId: replica.spec.replicaId }, 'cannot make the replica’s cgroup: it runs without its limits');
        memory = 'none';
        cpu = 'none';
      }
    }
    replica.limits = { memory, cpu };
    return memory === 'rlimit' ? rlimitArgv(command, resources.memoryMiB, this.options.rlimitAllowanceMiB ?? 64) : command;
  }

  #spawn(replica: Replica, run: number, argv: string[], env: Record<string, string>): void {
    const { spec } = replica;
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: replica.workDir,
      env,
      // A process group of its own: signals reach whatever it starts, and the agent's terminal does not reach it.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.#runAs ? { uid: this.#runAs.uid, gid: this.#runAs.gid } : {}),
    });
    const pid = child.pid;
    if (pid === undefined) {
      child.once('error', (error) => {
        if (replica.run !== run) return;
        this.options.logger.warn({ err: error, replicaId: spec.replicaId }, 'a replica could not start');
        this.#apply(replica, { type: 'spawn-failed', at: Date.now(), reason: `cannot start ${argv[0]}: ${error.message}` });
        if (hasEnded(replica.status.state)) this.#ended(replica);
      });
      return;
    }
    child.on('error', (error) => this.options.logger.warn({ err: error, replicaId: spec.replicaId, replicaPid: pid }, 'a replica’s process reported an error'));
    replica.child = child;
    replica.pid = pid;
    replica.startedAt = Date.now();
    replica.listening = false;
    replica.forced = false;
    try {
      writePidFile(replica.dir, { replicaId: spec.replicaId, pid, ...withStartTime(pid) });
    } catch (error) {
      this.options.logger.warn({ err: error, replicaId: spec.replicaId }, 'cannot write the replica’s pid file: should the agent be killed, its next start will not find this process');
    }
    if (this.#cgroups && (replica.limits.memory === 'cgroup' || replica.limits.cpu === 'cgroup')) {
      try {
        this.#cgroups.join(spec.replicaId, pid);
      } catch (error) {
        this.options.logger.warn({ err: error, replicaId: spec.replicaId }, 'cannot move the replica into its cgroup: it runs without its limits');
        replica.limits = { memory: 'none', cpu: 'none' };
      }
    }
    this.#capture(replica, child);
    let exited!: () => void;
    replica.exited = new Promise((resolve) => (exited = resolve));
    child.once('exit', (code, signal) => {
      this.#onExit(replica, run, child, code, signal);
      exited();
    });
    this.options.logger.info({ replicaId: spec.replicaId, replicaPid: pid, port: replica.port }, 'replica process started');
    this.#apply(replica, { type: 'spawned', at: replica.startedAt });
    this.#changed();
    this.#scheduleCheck(replica, run);
  }

  #capture(replica: Replica, child: ChildProcess): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = child[stream]!;
      source.setEncoding('utf8');
      const lines = new LineSplitter((line) => {
        const entry: LogLine = { at: new Date().toISOString(), stream, line };
        replica.logs.push(entry);
        replica.logFile.write(entry);
      });
      source.on('data', (chunk: string) => lines.write(chunk));
      source.on('end', () => lines.end());
      source.on('error', () => lines.end());
    }
  }

  #scheduleCheck(replica: Replica, run: number): void {
    const alive = () => this.#replicas.get(replica.spec.replicaId) === replica && replica.run === run && replica.child !== undefined && isRunning(replica.status.state);
    const { health } = replica.spec;
    replica.timers.check = setTimeout(() => {
      if (!alive()) return;
      void checkHealth(replica.port!, health.path, health.timeoutMs).then((result) => {
        if (!alive()) return;
        if (result.listening && !replica.listening) {
          replica.listening = true;
          this.#changed();
        }
        this.#apply(replica, result.ok ? { type: 'check-passed', at: Date.now() } : { type: 'check-failed', at: Date.now(), reason: result.reason ?? 'failed' });
        this.#scheduleCheck(replica, run);
      });
    }, health.intervalMs);
  }

  #onExit(replica: Replica, run: number, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const { spec } = replica;
    clearTimeout(replica.timers.check);
    clearTimeout(replica.timers.kill);
    if (replica.child === child) {
      replica.child = undefined;
      replica.pid = undefined;
      replica.listening = false;
    }
    // Whatever it started goes with it: a straggler would hold the port, and the next start fail on it.
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    try {
      removePidFile(replica.dir);
    } catch {
      // Its directory is gone: nothing to clean.
    }
    this.#cgroups?.remove(spec.replicaId);
    const how = describeExit(code, signal, replica);
    this.options.logger.info({ replicaId: spec.replicaId, replicaPid: child.pid, code, signal }, `replica process ${how}`);
    if (replica.run !== run) return;
    const status = this.#apply(replica, { type: 'exited', at: Date.now(), how, ranMs: Date.now() - replica.startedAt });
    if (status.state === 'backoff') replica.timers.restart = setTimeout(() => void this.#launch(replica), status.retryInMs);
    else if (hasEnded(status.state)) this.#ended(replica);
    // The pid and address are gone, whatever the state says.
    this.#changed();
  }

  /** Applies an event to the replica's status; says so when what a report shows has changed. */
  #apply(replica: Replica, event: ReplicaEvent): ReplicaStatus {
    const before = replica.status;
    const after = evolveReplica(before, event, {
      failureThreshold: replica.spec.health.failureThreshold,
      stableAfterMs: this.options.stableAfterMs ?? 30_000,
      backoff: this.options.backoff ?? DEFAULT_RESTART_BACKOFF,
    });
    if (after === before) return before;
    replica.status = after;
    if (after.state !== before.state) {
      this.options.logger.info({ replicaId: replica.spec.replicaId, from: before.state, to: after.state, reason: after.message }, `replica ${after.state}`);
    }
    if (after.state !== before.state || after.message !== before.message || after.restarts !== before.restarts) this.#changed();
    return after;
  }

  #ended(replica: Replica): void {
    replica.logFile.close();
    clearTimeout(replica.timers.forget);
    replica.timers.forget = setTimeout(() => {
      if (this.#replicas.get(replica.spec.replicaId) !== replica || !hasEnded(replica.status.state)) return;
      this.#forget(replica, { keepFiles: false });
      this.#changed();
    }, this.options.retentionMs ?? ENDED_RETENTION_MS);
    replica.timers.forget.unref();
  }

  #forget(replica: Replica, { keepFiles }: { keepFiles: boolean }): void {
    for (const timer of Object.values(replica.timers)) clearTimeout(timer);
    replica.logFile.close();
    this.#replicas.delete(replica.spec.replicaId);
    if (!keepFiles) rmSync(replica.dir, { recursive: true, force: true });
  }

  #changed(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        this.options.logger.warn({ err: error }, 'a workload listener failed');
      }
    }
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, replica: Replica): string {
  const ending = code !== null ? `exited with code ${code}` : `was killed by ${signal ?? 'a signal'}`;
  if (replica.status.state !== 'stopping') return ending;
  const reason = replica.stopReason ? ` (${replica.stopReason})` : '';
  return replica.forced ? `killed with SIGKILL after the ${replica.spec.stopGraceMs} ms grace${reason}` : `stopped${reason}: ${ending}`;
}

function withStartTime(pid: number): { startTime?: number } {
  const startTime = processStartTime(pid);
  return startTime === undefined ? {} : { startTime };
}

/** Signals a replica's whole process group (its leader's pid); one already gone is no error. Returns what went wrong. */
function signalGroup(pid: number, signal: NodeJS.Signals): Error | undefined {
  try {
    process.kill(-pid, signal);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? undefined : (error as Error);
  }
}

/** The program to run: as given when it names a path (relative to the working directory), else found on PATH. */
function resolveProgram(program: string, workDir: string, path: string): string {
  const candidates = program.includes('/') ? [program.startsWith('/') ? program : join(workDir, program)] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // next
    }
  }
  throw new LaunchError(program.includes('/') ? `${program} is not an executable file` : `${program} is not found on PATH (${path})`);
}

/** The replica's last port while it is still free (its address stays the same across restarts), else a new one. */
async function pickPort(previous: number | undefined, taken: Set<number>): Promise<number> {
  if (previous !== undefined && !taken.has(previous) && (await listensOn(previous)) !== undefined) return previous;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await listensOn(0);
    if (port !== undefined && !taken.has(port)) return port;
  }
  throw new Error('no free port to give the replica');
}

/** Binds `port` on every interface and lets go; the port bound, or undefined when it is taken. */
function listensOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, exclusive: true }, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
