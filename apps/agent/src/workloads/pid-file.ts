import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Each running replica leaves a pid file in its directory, so an agent that was killed without
 * stopping its replicas finds them when it starts again. A pid alone could by then name another
 * process: the file also keeps the process's start time, and only a process that matches both is
 * taken for the replica.
 */
export interface PidRecord {
  replicaId: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22); absent where there is no /proc. */
  startTime?: number;
}

export const PID_FILE = 'replica.pid';

export function writePidFile(dir: string, record: PidRecord): void {
  writeFileSync(join(dir, PID_FILE), `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

/** The record in `dir`, or undefined when there is none or it is not one. */
export function readPidFile(dir: string): PidRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, PID_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const record = parsed as Partial<PidRecord> | null;
  if (!record || typeof record.replicaId !== 'string' || !Number.isInteger(record.pid) || (record.pid as number) <= 1) return undefined;
  if (record.startTime !== undefined && !Number.isInteger(record.startTime)) return undefined;
  return { replicaId: record.replicaId, pid: record.pid!, ...(record.startTime !== undefined ? { startTime: record.startTime } : {}) };
}

export function removePidFile(dir: string): void {
  rmSync(join(dir, PID_FILE), { force: true });
}

/**
 * The start time and state of a process from its /proc/<pid>/stat. The command name (field 2) is
 * in parentheses and may itself hold spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(stat: string): { state: string; startTime: number } | undefined {
  const close = stat.lastIndexOf(')');
  if (close === -1) return undefined;
  // After the name: field 3 (state) is at index 0, field 22 (starttime) at index 19.
  const fields = stat.slice(close + 1).trim().split(/\s+/);
  const startTime = Number(fields[19]);
  if (!fields[0] || !Number.isInteger(startTime)) return undefined;
  return { state: fields[0], startTime };
}

/** The process's start time, or undefined when it is gone (a zombie counts as gone) or /proc cannot tell. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return stat && stat.state !== 'Z' ? stat.startTime : undefined;
  } catch {
    return undefined;
  }
}

/** The process the record names is still the one that wrote it. */
export function isStillRunning(record: PidRecord): boolean {
  if (record.startTime === undefined) return false;
  return processStartTime(record.pid) === record.startTime;
}
