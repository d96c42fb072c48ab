import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LimitEnforcement } from '@mycelium/contracts/workloads';

export const CGROUP_MOUNT = '/sys/fs/cgroup';
export const PRLIMIT = '/usr/bin/prlimit';
/** statfs(2) f_type of a cgroup v2 file system. */
export const CGROUP2_SUPER_MAGIC = 0x63677270;
/** The scheduler period cpu.max quotas are given in, and the kernel's smallest quota. */
const CPU_PERIOD_US = 100_000;
const MIN_CPU_QUOTA_US = 1000;
const MIB = 1024 * 1024;

/** What this machine offers to hold a replica to its resources. */
export interface LimitFacts {
  platform: NodeJS.Platform;
  /** /sys/fs/cgroup is a cgroup v2 file system (not v1, not hybrid). */
  cgroup2: boolean;
  /** This process's cgroup, from /proc/self/cgroup (`/` in a namespace of its own). */
  ownCgroup: string | undefined;
  /** The controllers this process's cgroup may hand down (its cgroup.controllers). */
  controllers: string[];
  /** This process may make cgroups under its own. */
  cgroupWritable: boolean;
  /** util-linux prlimit is installed at {@link PRLIMIT}. */
  prlimit: boolean;
}

/** How replicas are held: which mechanism per resource, and where their cgroups go. */
export interface LimitPlan {
  memory: LimitEnforcement;
  cpu: LimitEnforcement;
  /** The cgroup (a path under /sys/fs/cgroup) that replicas' cgroups are made in, when any limit is a cgroup's. */
  cgroupRoot?: string;
}

export const NO_LIMITS: LimitPlan = { memory: 'none', cpu: 'none' };

/**
 * Cgroups v2 when this process may make them and has the controllers; else memory through an
 * rlimit. An rlimit cannot hold CPU to a share of cores (RLIMIT_CPU ends a process after so many
 * seconds), so without cgroups CPU is not enforced.
 */
export function chooseLimits(facts: LimitFacts): LimitPlan {
  if (facts.platform !== 'linux') return NO_LIMITS;
  const rlimitMemory: LimitEnforcement = facts.prlimit ? 'rlimit' : 'none';
  if (!facts.cgroup2 || !facts.cgroupWritable || facts.ownCgroup === undefined) return { memory: rlimitMemory, cpu: 'none' };
  const memory: LimitEnforcement = facts.controllers.includes('memory') ? 'cgroup' : rlimitMemory;
  const cpu: LimitEnforcement = facts.controllers.includes('cpu') ? 'cgroup' : 'none';
  if (memory !== 'cgroup' && cpu !== 'cgroup') return { memory, cpu };
  return { memory, cpu, cgroupRoot: join(CGROUP_MOUNT, facts.ownCgroup).replace(/\/+$/, '') };
}

/** This process's cgroup v2 path from /proc/self/cgroup (the `0::` line), if it is in one. */
export function parseOwnCgroup(procSelfCgroup: string): string | undefined {
  for (const line of procSelfCgroup.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3).trim() || undefined;
  }
  return undefined;
}

/** cpu.max for `cores`: a quota per 100 ms period, never under the kernel's minimum. */
export function cpuMax(cores: number): string {
  return `${Math.max(MIN_CPU_QUOTA_US, Math.round(cores * CPU_PERIOD_US))} ${CPU_PERIOD_US}`;
}

export function memoryMax(memoryMiB: number): string {
  return String(Math.round(memoryMiB * MIB));
}

/**
 * The argv that runs `command` under a data-segment rlimit. RLIMIT_DATA rather than RLIMIT_AS:
 * runtimes that reserve address space up front (V8, Go) do not even start under an address-space
 * limit anywhere near the memory they use. Like every rlimit it counts what is reserved (thread
 * stacks, allocator arenas), not what is resident, hence an allowance on top of the replica's memory.
 */
export function rlimitArgv(command: string[], memoryMiB: number, allowanceMiB: number): string[] {
  return [PRLIMIT, `--data=${Math.round((memoryMiB + allowanceMiB) * MIB)}`, '--', ...command];
}

/** The facts of this machine; whatever cannot be read counts as absent. */
export function probeLimitFacts(): LimitFacts {
  const facts: LimitFacts = { platform: process.platform, cgroup2: false, ownCgroup: undefined, controllers: [], cgroupWritable: false, prlimit: false };
  if (process.platform !== 'linux') return facts;
  facts.prlimit = canAccess(PRLIMIT, constants.X_OK);
  try {
    facts.cgroup2 = statfsSync(CGROUP_MOUNT).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return facts;
  }
  if (!facts.cgroup2) return facts;
  facts.ownCgroup = parseOwnCgroup(readOr('/proc/self/cgroup', ''));
  if (facts.ownCgroup === undefined) return facts;
  const own = join(CGROUP_MOUNT, facts.ownCgroup);
  facts.controllers = readOr(join(own, 'cgroup.controllers'), '').split(/\s+/).filter(Boolean);
  facts.cgroupWritable = canAccess(own, constants.W_OK) && canAccess(join(own, 'cgroup.subtree_control'), constants.W_OK);
  return facts;
}

/**
 * Replicas' cgroups under this process's own. Cgroups v2 lets a cgroup hand controllers down only
 * while no process sits in it, so the agent first moves itself into a leaf `agent` beside the
 * replicas' (as a delegated systemd unit does). Should other processes share its cgroup, that
 * cannot work, and {@link prepare} says so: the caller falls back to rlimits.
 */
export class ReplicaCgroups {
  constructor(
    readonly root: string,
    private readonly plan: LimitPlan,
  ) {}

  #controllers(): string {
    return [this.plan.memory === 'cgroup' ? '+memory' : '', this.plan.cpu === 'cgroup' ? '+cpu' : ''].filter(Boolean).join(' ');
  }

  /** Hands the controllers down to the replicas' cgroups; throws when the kernel will not. */
  prepare(): void {
    const subtree = join(this.root, 'cgroup.subtree_control');
    try {
      writeFileSync(subtree, this.#controllers());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') throw error;
      const leaf = join(this.root, 'agent');
      mkdirSync(leaf, { recursive: true });
      writeFileSync(join(leaf, 'cgroup.procs'), String(process.pid));
      writeFileSync(subtree, this.#controllers());
    }
  }

  pathOf(replicaId: string): string {
    return join(this.root, `replica-${replicaId}`);
  }

  /** Makes the replica's cgroup with its limits; returns its path. */
  create(replicaId: string, resources: { cpu: number; memoryMiB: number }): string {
    const path = this.pathOf(replicaId);
    mkdirSync(path, { recursive: true });
    try {
      if (this.plan.memory === 'cgroup') {
        writeFileSync(join(path, 'memory.max'), memoryMax(resources.memoryMiB));
        // Without swap off, memory.max only moves the excess to swap.
        tryWrite(join(path, 'memory.swap.max'), '0');
      }
      if (this.plan.cpu === 'cgroup') writeFileSync(join(path, 'cpu.max'), cpuMax(resources.cpu));
    } catch (error) {
      this.remove(replicaId);
      throw error;
    }
    return path;
  }

  /**
   * Moves a process into the replica's cgroup. It runs for a moment before (spawn gives no hook
   * between fork and exec); whatever it starts after joins with it.
   */
  join(replicaId: string, pid: number): void {
    writeFileSync(join(this.pathOf(replicaId), 'cgroup.procs'), String(pid));
  }

  /** Kills whatever is left in the replica's cgroup (cgroup.kill, Linux 5.14+), then removes it. */
  remove(replicaId: string, options: { kill?: boolean } = {}): void {
    const path = this.pathOf(replicaId);
    if (options.kill) tryWrite(join(path, 'cgroup.kill'), '1');
    try {
      rmdirSync(path);
    } catch {
      // Busy until its last process is reaped, or gone already: the next start or cleanup removes it.
    }
  }

  /** Replicas whose cgroups a previous run of the agent left. */
  leftovers(): string[] {
    try {
      return readdirSync(this.root)
        .filter((name) => name.startsWith('replica-'))
        .map((name) => name.slice('replica-'.length));
    } catch {
      return [];
    }
  }
}

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function tryWrite(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch {
    // Optional knobs (an older kernel, swap accounting off).
  }
}
