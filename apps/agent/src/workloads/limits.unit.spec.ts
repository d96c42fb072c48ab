import { describe, expect, it } from 'vitest';
import { chooseLimits, cpuMax, type LimitFacts, memoryMax, parseOwnCgroup, PRLIMIT, rlimitArgv } from './limits.js';

const facts = (overrides: Partial<LimitFacts> = {}): LimitFacts => ({
  platform: 'linux',
  cgroup2: true,
  ownCgroup: '/system.slice/mycelium-agent.service',
  controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'],
  cgroupWritable: true,
  prlimit: true,
  ...overrides,
});

describe('resource limits', () => {
  it('holds memory and cpu with cgroups v2 when the agent may make cgroups with both controllers', () => {
    expect(chooseLimits(facts())).toEqual({ memory: 'cgroup', cpu: 'cgroup', cgroupRoot: '/sys/fs/cgroup/system.slice/mycelium-agent.service' });
    expect(chooseLimits(facts({ ownCgroup: '/' }))).toMatchObject({ cgroupRoot: '/sys/fs/cgroup' });
  });

  it('falls back to an rlimit for memory, and nothing for cpu, on cgroup v1 or a cgroup it may not write', () => {
    expect(chooseLimits(facts({ cgroup2: false, ownCgroup: undefined, controllers: [] }))).toEqual({ memory: 'rlimit', cpu: 'none' });
    expect(chooseLimits(facts({ cgroupWritable: false }))).toEqual({ memory: 'rlimit', cpu: 'none' });
    expect(chooseLimits(facts({ ownCgroup: undefined }))).toEqual({ memory: 'rlimit', cpu: 'none' });
  });

  it('takes each controller it has, and the fallback for the one it lacks', () => {
    expect(chooseLimits(facts({ controllers: ['cpu', 'pids'] }))).toEqual({ memory: 'rlimit', cpu: 'cgroup', cgroupRoot: '/sys/fs/cgroup/system.slice/mycelium-agent.service' });
    expect(chooseLimits(facts({ controllers: ['memory'] }))).toMatchObject({ memory: 'cgroup', cpu: 'none' });
    expect(chooseLimits(facts({ controllers: ['pids'], prlimit: false }))).toEqual({ memory: 'none', cpu: 'none' });
  });

  it('enforces nothing without prlimit and cgroups, or off Linux', () => {
    expect(chooseLimits(facts({ cgroup2: false, prlimit: false }))).toEqual({ memory: 'none', cpu: 'none' });
    expect(chooseLimits(facts({ platform: 'darwin' }))).toEqual({ memory: 'none', cpu: 'none' });
  });

  it('reads its own cgroup v2 path from /proc/self/cgroup, on v2 and hybrid hosts alike', () => {
    expect(parseOwnCgroup('0::/user.slice/user-1000.slice/session-2.scope\n')).toBe('/user.slice/user-1000.slice/session-2.scope');
    expect(parseOwnCgroup('12:pids:/\n4:memory:/x\n0::/\n')).toBe('/');
    expect(parseOwnCgroup('4:memory:/process_api/0b6e\n1:cpu:/\n')).toBeUndefined();
  });

  it('writes cpu.max as a quota per 100 ms, never below the kernel minimum, and memory.max in bytes', () => {
    expect(cpuMax(1.5)).toBe('150000 100000');
    expect(cpuMax(0.25)).toBe('25000 100000');
    expect(cpuMax(0.001)).toBe('1000 100000');
    expect(memoryMax(256)).toBe('268435456');
  });

  it('runs the command under prlimit with a data limit of its memory plus the allowance', () => {
    expect(rlimitArgv(['/usr/bin/node', 'server.mjs'], 128, 64)).toEqual([PRLIMIT, `--data=${192 * 1024 * 1024}`, '--', '/usr/bin/node', 'server.mjs']);
  });
});
