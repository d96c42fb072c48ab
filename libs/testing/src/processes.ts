import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** A service process started by a test, with its JSON log lines kept for assertions. */
export interface TestProcess {
  name: string;
  child: ChildProcess;
  /** Parsed log lines so far (stdout and stderr). */
  logs: Record<string, unknown>[];
  /** Raw lines that were not JSON. */
  text: string[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string | null>;
  /** The first log line matching `predicate`, waiting for it. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/** Fails with a clear hint when the compiled output the test runs has not been built. */
export function requireBuilt(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first`);
  return path;
}

/** Starts `node <script> ...args` with `env` added to this process's environment. */
export function startProcess(name: string, script: string, args: string[], env: NodeJS.ProcessEnv): TestProcess {
  const child = spawn(process.execPath, [requireBuilt(script), ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const text: string[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        text.push(line);
      }
      for (const wake of waiters) wake();
    });
  }
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const processHandle: TestProcess = {
    name,
    child,
    logs,
    text,
    exited,
    waitForLog: (predicate, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(predicate);
          if (found) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: expected log line did not appear within ${timeoutMs} ms\n${[...text, ...logs.map((l) => JSON.stringify(l))].slice(-20).join('\n')}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`${name} exited (${code}) before the expected log line\n${[...text, ...logs.map((l) => JSON.stringify(l))].slice(-20).join('\n')}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      }),
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  return processHandle;
}
