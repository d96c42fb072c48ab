import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReplicaReport, StartReplica } from '@mycelium/contracts/workloads';
import { createLogger } from '@mycelium/telemetry';
import { waitFor } from '@mycelium/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseLimits, probeLimitFacts } from './limits.js';
import { processStartTime, readPidFile, writePidFile } from './pid-file.js';
import { ProcessRuntime, type ProcessRuntimeOptions } from './process-runtime.js';

const hello = join(import.meta.dirname, '..', '..', '..', '..', 'examples', 'hello', 'server.mjs');
const root = process.getuid?.() === 0;

/** A replica of examples/hello, checked often so tests are quick. */
const spec = (replicaId: string, overrides: Partial<StartReplica> = {}): StartReplica => ({
  replicaId,
  appId: 'app-hello',
  tenant: 'acme',
  app: 'hello',
  version: '1.0.0',
  command: [process.execPath, hello],
  env: {},
  health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, failureThreshold: 3 },
  resources: { cpu: 0.5, memoryMiB: 64, storageGiB: 0 },
  stopGraceMs: 5000,
  ...overrides,
});

const isGone = (pid: number) => processStartTime(pid) === undefined;

describe('process runtime', () => {
  const runtimes: ProcessRuntime[] = [];
  const strays: ChildProcess[] = [];

  const open = async (options: Partial<ProcessRuntimeOptions> = {}) => {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'workloads-'));
    const runtime = new ProcessRuntime({ dataDir, logger: createLogger({ name: 'workloads-int', level: 'silent' }), ...options });
    await runtime.open();
    runtimes.push(runtime);
    const changes: ReplicaReport[][] = [];
    runtime.onChange(() => changes.push(runtime.report()));
    const replica = (replicaId: string) => runtime.report().find((report) => report.replicaId === replicaId);
    const inState = (replicaId: string, state: ReplicaReport['state']) =>
      waitFor(() => (replica(replicaId)?.state === state ? replica(replicaId) : undefined), { what: `${replicaId} to be ${state} (now ${replica(replicaId)?.state})` });
    return { runtime, dataDir, changes, replica, inState };
  };

  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
    for (const stray of strays.splice(0)) stray.kill('SIGKILL');
  });

  it('starts a replica that turns healthy at an address answering with its replica id, in its own directory, as an unprivileged user when the agent is root', async () => {
    const previousToken = process.env.MYCELIUM_JOIN_TOKEN;
    process.env.MYCELIUM_JOIN_TOKEN = 'the-agents-own-secret';
    try {
      const { runtime, dataDir, inState } = await open();
      expect(runtime.start(spec('hello-1', { env: { GREETING: 'hi', PORT: '1' } }))).toBe(true);
      // Started already: nothing changes.
      expect(runtime.start(spec('hello-1'))).toBe(false);

      const healthy = await inState('hello-1', 'healthy');
      expect(healthy).toMatchObject({ appId: 'app-hello', version: '1.0.0', restarts: 0, address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
      const answer = (await (await fetch(`http://${healthy.address}/`)).json()) as Record<string, unknown>;
      expect(answer).toMatchObject({ replica: 'hello-1', app: 'hello', version: '1.0.0', pid: healthy.pid });

      const pid = healthy.pid!;
      const dir = join(dataDir, 'workloads', 'hello-1');
      expect(readlinkSync(`/proc/${pid}/cwd`)).toBe(join(dir, 'work'));
      expect(readPidFile(dir)).toEqual({ replicaId: 'hello-1', pid, startTime: processStartTime(pid) });
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      expect(uid).toBe(root ? 65534 : process.getuid!());
      // Its environment is what it was given, with PORT and MYCELIUM_* set by the agent, and nothing of the agent's own.
      const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(environment).toEqual(
        expect.arrayContaining(['GREETING=hi', `PORT=${healthy.address!.split(':')[1]}`, 'MYCELIUM_REPLICA_ID=hello-1', 'MYCELIUM_APP=hello', 'MYCELIUM_APP_VERSION=1.0.0']),
      );
      expect(environment.join('\n')).not.toContain('the-agents-own-secret');

      // Held to its memory the way this machine allows, and saying so.
      const plan = chooseLimits(probeLimitFacts());
      expect(healthy.limits).toEqual({ memory: plan.memory, cpu: plan.cpu });
      if (plan.memory === 'rlimit') expect(readFileSync(`/proc/${pid}/limits`, 'utf8')).toMatch(new RegExp(`Max data size\\s+${(64 + 64) * 1024 * 1024}\\s`));
      if (plan.memory === 'cgroup') expect(readFileSync(join(plan.cgroupRoot!, 'replica-hello-1', 'memory.max'), 'utf8').trim()).toBe(String(64 * 1024 * 1024));

      // Its output, in memory and in its log file.
      const listening = `hello: replica hello-1 of hello 1.0.0 listening on ${healthy.address!.split(':')[1]}`;
      expect(runtime.logs('hello-1', 200)).toEqual([{ at: expect.any(String), stream: 'stdout', line: listening }]);
      expect(readFileSync(join(dir, 'replica.log'), 'utf8')).toContain(`stdout ${listening}`);
      expect(runtime.logs('unknown', 200)).toBeUndefined();
    } finally {
      if (previousToken === undefined) delete process.env.MYCELIUM_JOIN_TOKEN;
      else process.env.MYCELIUM_JOIN_TOKEN = previousToken;
    }
  });

  it('marks a replica whose health check never passes unhealthy, saying why, and keeps checking', async () => {
    const { runtime, inState, changes } = await open();
    runtime.start(spec('sick-1', { env: { HELLO_HEALTHY: 'false' } }));
    const unhealthy = await inState('sick-1', 'unhealthy');
    expect(unhealthy.message).toBe('3 health checks failed in a row: GET /healthz answered 503');
    // It listens: the address is there for whoever wants to look.
    expect(unhealthy.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(changes.map((report) => report[0]?.state).filter((state, index, states) => state !== states[index - 1])).toEqual(['starting', 'unhealthy']);
  });

  it('backs off a replica that exits at once, waiting longer each time and counting restarts, never in a tight loop', async () => {
    const { runtime, replica, changes } = await open({ backoff: { initialMs: 50, maxMs: 200 } });
    runtime.start(spec('crash-1', { env: { HELLO_CRASH: '1' } }));
    await waitFor(() => replica('crash-1')!.restarts >= 4 && replica('crash-1')!.state === 'backoff', { what: 'four restarts' });

    // The wait each backoff announced, by the restarts so far.
    const waits = new Map<number, string>();
    for (const report of changes) for (const entry of report) if (entry.state === 'backoff') waits.set(entry.restarts, entry.message!);
    expect([...waits.values()].slice(0, 4)).toEqual([50, 100, 200, 200].map((ms) => `exited with code 1; starting again in ${ms} ms`));
    // Every start is one run that said it crashed: no start went uncounted.
    const { restarts } = replica('crash-1')!;
    expect(runtime.logs('crash-1', 5000)!.filter((entry) => entry.stream === 'stderr' && entry.line === 'hello: HELLO_CRASH=1, exiting at once')).toHaveLength(restarts + 1);
    // Between two starts nothing runs: a stop is done at once.
    await runtime.stop('crash-1', 'test');
    expect(replica('crash-1')).toMatchObject({ state: 'stopped', message: 'stopped: test' });
    const stoppedAt = replica('crash-1')!.restarts;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(replica('crash-1')!.restarts).toBe(stoppedAt);
  });

  it('stops a replica with SIGTERM, and starts it anew when asked again', async () => {
    const { runtime, replica, inState } = await open();
    runtime.start(spec('hello-2'));
    const { pid, address } = await inState('hello-2', 'healthy');
    const stopping = runtime.stop('hello-2', 'scaled down');
    expect(replica('hello-2')!.state).toBe('stopping');
    await stopping;
    expect(replica('hello-2')).toMatchObject({ state: 'stopped', message: 'stopped (scaled down): exited with code 0' });
    expect(replica('hello-2')).not.toHaveProperty('pid');
    expect(isGone(pid!)).toBe(true);
    expect(runtime.logs('hello-2', 200)!.map((entry) => entry.line)).toContain('hello: SIGTERM, stopping');
    await expect(fetch(`http://${address}/`)).rejects.toThrow();

    // Stopping what has stopped, or what it never knew, changes nothing.
    const since = replica('hello-2')!.since;
    await runtime.stop('hello-2', 'again');
    await runtime.stop('never-started', 'nothing');
    expect(replica('hello-2')).toMatchObject({ state: 'stopped', since });
    expect(replica('never-started')).toBeUndefined();

    expect(runtime.start(spec('hello-2'))).toBe(true);
    const again = await inState('hello-2', 'healthy');
    expect(again.pid).not.toBe(pid);
    expect(again.restarts).toBe(0);
  });

  it('kills a replica that ignores SIGTERM after its grace, with everything it started', async () => {
    const { runtime, replica, inState } = await open();
    const stubborn = [
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));",
      "const child = require('node:child_process').spawn(process.execPath, ['-e', 'process.on(\"SIGTERM\", () => {}); setInterval(() => {}, 1000)'], { stdio: 'ignore' });",
      "console.log('child ' + child.pid);",
      "require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT));",
    ].join('\n');
    runtime.start(spec('stubborn-1', { command: [process.execPath, '-e', stubborn], stopGraceMs: 300 }));
    const { pid } = await inState('stubborn-1', 'healthy');
    const grandchild = Number(runtime.logs('stubborn-1', 10)!.find((entry) => entry.line.startsWith('child '))!.line.slice('child '.length));
    expect(isGone(grandchild)).toBe(false);

    await runtime.stop('stubborn-1', 'test');
    expect(replica('stubborn-1')).toMatchObject({ state: 'stopped', message: 'killed with SIGKILL after the 300 ms grace (test)' });
    expect(runtime.logs('stubborn-1', 10)!.map((entry) => entry.line)).toContain('ignoring SIGTERM');
    expect(isGone(pid!)).toBe(true);
    await waitFor(() => isGone(grandchild), { what: 'the replica’s own child to be killed' });
  });

  it('fails a replica whose program does not exist, without retrying', async () => {
    const { runtime, inState } = await open();
    runtime.start(spec('missing-1', { command: ['no-such-program-mycelium'] }));
    const failed = await inState('missing-1', 'failed');
    expect(failed.message).toMatch(/^no-such-program-mycelium is not found on PATH/);
    expect(failed.restarts).toBe(0);
  });

  it('kills, at start, a replica that a previous run of the agent left running, and only that', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'workloads-'));
    // What a killed agent leaves: a replica in its own process group, and its pid file.
    const dir = join(dataDir, 'workloads', 'left-1');
    mkdirSync(join(dir, 'work'), { recursive: true });
    const leftover = spawn(process.execPath, [hello], { cwd: join(dir, 'work'), env: { PORT: '0' }, detached: true, stdio: 'ignore' });
    strays.push(leftover);
    await waitFor(() => processStartTime(leftover.pid!) !== undefined, { what: 'the leftover to run' });
    writePidFile(dir, { replicaId: 'left-1', pid: leftover.pid!, startTime: processStartTime(leftover.pid!)! });
    // A pid file whose pid now names some other process (its start time differs) must not get it killed.
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    strays.push(bystander);
    await waitFor(() => processStartTime(bystander.pid!) !== undefined, { what: 'the bystander to run' });
    mkdirSync(join(dataDir, 'workloads', 'reused-1'));
    writePidFile(join(dataDir, 'workloads', 'reused-1'), { replicaId: 'reused-1', pid: bystander.pid!, startTime: processStartTime(bystander.pid!)! - 1 });

    const { runtime } = await open({ dataDir });
    expect(isGone(leftover.pid!)).toBe(true);
    expect(isGone(bystander.pid!)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(runtime.report()).toEqual([]);
  });

  it('starts nothing once it has stopped everything', async () => {
    const { runtime, inState } = await open();
    runtime.start(spec('hello-3'));
    const { pid } = await inState('hello-3', 'healthy');
    await runtime.stopAll('the agent is stopping');
    expect(isGone(pid!)).toBe(true);
    expect(runtime.start(spec('hello-4'))).toBe(false);
    expect(runtime.report().map((report) => [report.replicaId, report.state])).toEqual([['hello-3', 'stopped']]);
  });
});
