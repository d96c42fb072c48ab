import { describe, expect, it } from 'vitest';
import { initialStatus, type ReplicaStatus } from './replica-lifecycle.js';
import { buildReport, formatAddress, replicaReport, type ReplicaView } from './report.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const view = (replicaId: string, status: Partial<ReplicaStatus>, extra: Partial<ReplicaView> = {}): ReplicaView => ({
  spec: { replicaId, appId: 'app-1', version: '1.0.0' },
  status: { ...initialStatus(T0), ...status },
  limits: { memory: 'rlimit', cpu: 'none' },
  ...extra,
});

describe('workload report', () => {
  it('says what a replica is, where it listens and since when', () => {
    expect(replicaReport(view('r-1', { state: 'healthy', restarts: 2, since: T0 + 1500 }, { pid: 4242, address: '127.0.0.1:40001' }))).toEqual({
      replicaId: 'r-1',
      appId: 'app-1',
      version: '1.0.0',
      state: 'healthy',
      address: '127.0.0.1:40001',
      pid: 4242,
      restarts: 2,
      limits: { memory: 'rlimit', cpu: 'none' },
      since: '2030-01-01T00:00:01.500Z',
    });
  });

  it('leaves out what is not known: no pid between starts, no address before it listens', () => {
    const report = replicaReport(view('r-1', { state: 'backoff', message: 'exited with code 1; starting again in 1000 ms' }));
    expect(report).not.toHaveProperty('pid');
    expect(report).not.toHaveProperty('address');
    expect(report.message).toBe('exited with code 1; starting again in 1000 ms');
  });

  it('keeps stopped and failed replicas for a minute after they end, in replica order', () => {
    const views = [
      view('r-3', { state: 'healthy', since: T0 }),
      view('r-1', { state: 'stopped', since: T0 }),
      view('r-2', { state: 'failed', since: T0 + 30_000 }),
    ];
    expect(buildReport(views, T0 + 59_999).map((replica) => replica.replicaId)).toEqual(['r-1', 'r-2', 'r-3']);
    expect(buildReport(views, T0 + 60_000).map((replica) => replica.replicaId)).toEqual(['r-2', 'r-3']);
    expect(buildReport(views, T0 + 120_000).map((replica) => replica.replicaId)).toEqual(['r-3']);
  });

  it('brackets an IPv6 host in an address', () => {
    expect(formatAddress('10.0.0.7', 8080)).toBe('10.0.0.7:8080');
    expect(formatAddress('fd00::7', 8080)).toBe('[fd00::7]:8080');
  });
});
