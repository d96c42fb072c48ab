import type { LogsRequest, StartReplica, StopReplica } from '@mycelium/contracts/workloads';

/**
 * Checks of what the deployment service sends, written out by hand: the agent does not load the
 * validators (docs/adr/0012). A replica id names a directory and a cgroup, hence its strict form.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

export const MAX_LOG_TAIL = 5000;
export const DEFAULT_LOG_TAIL = 200;

const REPLICA_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ARGS = 256;
const MAX_ARG_LENGTH = 64 * 1024;

class Invalid extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'Invalid';
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function record(value: unknown, field: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Invalid(field, `${field} must be an object`);
  return value;
}

function text(value: unknown, field: string, { max = 256, min = 1 }: { max?: number; min?: number } = {}): string {
  if (typeof value !== 'string' || value.length < min || value.length > max) throw new Invalid(field, `${field} must be a string of ${min} to ${max} characters`);
  if (value.includes('\0')) throw new Invalid(field, `${field} must not contain NUL`);
  return value;
}

function number(value: unknown, field: string, { min, integer = false }: { min: number; integer?: boolean }): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Invalid(field, `${field} must be ${integer ? 'a whole number' : 'a number'} of at least ${min}`);
  }
  return value;
}

function replicaId(value: unknown): string {
  if (typeof value !== 'string' || !REPLICA_ID.test(value)) throw new Invalid('replicaId', 'replicaId must be 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter or digit');
  return value;
}

function parse<T>(read: () => T): Parsed<T> {
  try {
    return { ok: true, value: read() };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, field: error.field, message: error.message };
    throw error;
  }
}

export function parseStartReplica(value: unknown): Parsed<StartReplica> {
  return parse(() => {
    const message = record(value, 'message');
    if (!Array.isArray(message.command) || message.command.length === 0 || message.command.length > MAX_ARGS) {
      throw new Invalid('command', `command must be an argv of 1 to ${MAX_ARGS} strings`);
    }
    const command = message.command.map((arg, index) => text(arg, `command[${index}]`, { min: index === 0 ? 1 : 0, max: MAX_ARG_LENGTH }));
    const envIn = record(message.env ?? {}, 'env');
    const env: Record<string, string> = {};
    for (const [name, envValue] of Object.entries(envIn)) {
      if (!ENV_NAME.test(name)) throw new Invalid(`env.${name}`, `env.${name.slice(0, 64)} is not a name: letters, digits and _, not starting with a digit`);
      env[name] = text(envValue, `env.${name}`, { min: 0, max: MAX_ARG_LENGTH });
    }
    const health = record(message.health, 'health');
    const path = text(health.path, 'health.path', { max: 1024 });
    if (!path.startsWith('/') || /\s/.test(path)) throw new Invalid('health.path', 'health.path must start with / and hold no spaces');
    const resources = record(message.resources, 'resources');
    return {
      replicaId: replicaId(message.replicaId),
      appId: text(message.appId, 'appId'),
      tenant: text(message.tenant, 'tenant'),
      app: text(message.app, 'app'),
      version: text(message.version, 'version'),
      command,
      env,
      health: {
        path,
        intervalMs: number(health.intervalMs, 'health.intervalMs', { min: 10, integer: true }),
        timeoutMs: number(health.timeoutMs, 'health.timeoutMs', { min: 1, integer: true }),
        failureThreshold: number(health.failureThreshold, 'health.failureThreshold', { min: 1, integer: true }),
      },
      resources: {
        cpu: number(resources.cpu, 'resources.cpu', { min: 0.001 }),
        memoryMiB: number(resources.memoryMiB, 'resources.memoryMiB', { min: 1 }),
        storageGiB: number(resources.storageGiB, 'resources.storageGiB', { min: 0 }),
      },
      stopGraceMs: number(message.stopGraceMs, 'stopGraceMs', { min: 0, integer: true }),
    };
  });
}

export function parseStopReplica(value: unknown): Parsed<StopReplica> {
  return parse(() => {
    const message = record(value, 'message');
    return { replicaId: replicaId(message.replicaId), reason: message.reason === undefined ? 'asked to stop' : text(message.reason, 'reason', { max: 1024 }) };
  });
}

/** A logs request, its tail within bounds: default {@link DEFAULT_LOG_TAIL}, at most {@link MAX_LOG_TAIL}. */
export function parseLogsRequest(value: unknown): Parsed<Required<LogsRequest>> {
  return parse(() => {
    const message = record(value, 'message');
    const tail = message.tail === undefined ? DEFAULT_LOG_TAIL : Math.min(number(message.tail, 'tail', { min: 0, integer: true }), MAX_LOG_TAIL);
    return { replicaId: replicaId(message.replicaId), tail };
  });
}
