import { describe, expect, it } from 'vitest';
import { summaryOf, sinceOf } from './events.command.js';
import { diffStates, flatten } from './history.command.js';
import { gapsOf, progressBar } from './projections.command.js';

const aggregate = (id: string, state: unknown) => ({ id, stream: `deployment/app/${id}`, version: 1, state });

describe('operators’ views of the log', () => {
  it('says what changed in each aggregate between two moments, path by path', () => {
    const before = [aggregate('app_a', { status: 'active', replicas: [{ node: 'n1' }, { node: 'n2' }] }), aggregate('app_gone', { status: 'active' })];
    const after = [aggregate('app_a', { status: 'degraded', replicas: [{ node: 'n3' }] }), aggregate('app_new', { status: 'deploying' })];
    expect(diffStates(before, after)).toEqual([
      { id: 'app_a', changes: [{ path: 'replicas.0.node', before: '"n1"', after: '"n3"' }, { path: 'replicas.1.node', before: '"n2"' }, { path: 'status', before: '"active"', after: '"degraded"' }] },
      { id: 'app_gone', changes: [{ path: 'status', before: '"active"' }] },
      { id: 'app_new', changes: [{ path: 'status', after: '"deploying"' }] },
    ]);
    expect(diffStates(before, before)).toEqual([]);
    expect(flatten({ empty: {}, list: [] })).toEqual(new Map([['empty', '{}'], ['list', '[]']]));
  });

  it('finds where an exported slice misses events of a stream', () => {
    const event = (stream: string, version: number, position: bigint) => ({ id: `${stream}-${version}`, streamId: stream, streamVersion: version, position, type: 't', data: {}, metadata: {}, recordedAt: new Date() });
    expect(gapsOf([event('a', 1, 1n), event('b', 1, 2n), event('a', 2, 3n), event('b', 4, 4n)])).toEqual([{ stream: 'b', after: 1, next: 4 }]);
  });

  it('draws progress, sums up data in a line, and reads 10m as ten minutes ago', () => {
    expect(progressBar(50n, 200n, 8)).toBe('[##------]  25%');
    expect(progressBar(5n, 0n, 4)).toBe('[####] 100%');
    expect(summaryOf({ appId: 'app_a', replicas: [1, 2], spec: { a: 1 }, at: 'x', note: null })).toBe('appId=app_a replicas=[2] spec={…}');
    expect(summaryOf({ text: 'x'.repeat(200) }, 20)).toHaveLength(20);
    const tenMinutesAgo = Date.parse(sinceOf('10m'));
    expect(Math.abs(Date.now() - 600_000 - tenMinutesAgo)).toBeLessThan(5000);
    expect(sinceOf('12345')).toBe('12345');
  });
});
