import { describe, expect, it } from 'vitest';
import { parseLogsRequest, parseStartReplica, parseStopReplica } from './workload-messages.js';

const start = {
  replicaId: 'app-1.v1-r0',
  appId: 'app-1',
  tenant: 'acme',
  app: 'hello',
  version: '1.0.0',
  command: ['/usr/bin/node', 'server.mjs', ''],
  env: { GREETING: 'hi', EMPTY: '' },
  health: { path: '/healthz', intervalMs: 200, timeoutMs: 200, failureThreshold: 3 },
  resources: { cpu: 0.25, memoryMiB: 64, storageGiB: 0 },
  stopGraceMs: 1000,
};

describe('workload messages', () => {
  it('takes a well-formed start as it is', () => {
    expect(parseStartReplica(start)).toEqual({ ok: true, value: start });
    expect(parseStartReplica({ ...start, env: undefined })).toMatchObject({ ok: true, value: { env: {} } });
  });

  it.each([
    ['not an object', 'start', 'message'],
    [{ ...start, replicaId: '../../etc' }, null, 'replicaId'],
    [{ ...start, replicaId: '.hidden' }, null, 'replicaId'],
    [{ ...start, command: [] }, null, 'command'],
    [{ ...start, command: ['', 'x'] }, null, 'command[0]'],
    [{ ...start, command: ['node', 3] }, null, 'command[1]'],
    [{ ...start, env: { 'BAD=NAME': 'x' } }, null, 'env.BAD=NAME'],
    [{ ...start, env: { OK: 1 } }, null, 'env.OK'],
    [{ ...start, health: { ...start.health, path: 'healthz' } }, null, 'health.path'],
    [{ ...start, health: { ...start.health, failureThreshold: 0 } }, null, 'health.failureThreshold'],
    [{ ...start, health: { ...start.health, intervalMs: 1.5 } }, null, 'health.intervalMs'],
    [{ ...start, resources: { ...start.resources, memoryMiB: -1 } }, null, 'resources.memoryMiB'],
    [{ ...start, resources: { ...start.resources, cpu: Number.NaN } }, null, 'resources.cpu'],
    [{ ...start, stopGraceMs: '1000' }, null, 'stopGraceMs'],
    [{ ...start, app: undefined }, null, 'app'],
  ])('refuses a start with a bad field (%#), naming it', (message, _unused, field) => {
    const parsed = parseStartReplica(message);
    expect(parsed).toMatchObject({ ok: false, field });
    if (!parsed.ok) expect(parsed.message).toContain(field.replace(/\[\d+\]$/, ''));
  });

  it('reads a stop, with a reason or without', () => {
    expect(parseStopReplica({ replicaId: 'r-1', reason: 'scaled down' })).toEqual({ ok: true, value: { replicaId: 'r-1', reason: 'scaled down' } });
    expect(parseStopReplica({ replicaId: 'r-1' })).toEqual({ ok: true, value: { replicaId: 'r-1', reason: 'asked to stop' } });
    expect(parseStopReplica({ replicaId: 7 })).toMatchObject({ ok: false, field: 'replicaId' });
  });

  it('gives a logs request a tail of 200 by default and at most 5000', () => {
    expect(parseLogsRequest({ replicaId: 'r-1' })).toEqual({ ok: true, value: { replicaId: 'r-1', tail: 200 } });
    expect(parseLogsRequest({ replicaId: 'r-1', tail: 1_000_000 })).toEqual({ ok: true, value: { replicaId: 'r-1', tail: 5000 } });
    expect(parseLogsRequest({ replicaId: 'r-1', tail: -1 })).toMatchObject({ ok: false, field: 'tail' });
  });
});
