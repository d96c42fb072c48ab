import { describe, expect, it } from 'vitest';
import { parseProcStat } from './pid-file.js';

describe('pid file', () => {
  it('reads the state and start time from /proc/<pid>/stat', () => {
    const stat = '4242 (node) S 1 4242 4242 0 -1 4194560 1370 0 0 0 4 1 0 0 20 0 7 0 8812345 1054494720 11006 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0';
    expect(parseProcStat(stat)).toEqual({ state: 'S', startTime: 8812345 });
  });

  it('counts fields from the last parenthesis: a command name may hold spaces and parentheses', () => {
    const stat = '77 (my (odd) app) Z 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0';
    expect(parseProcStat(stat)).toEqual({ state: 'Z', startTime: 555 });
  });

  it('gives nothing for what is not a stat line', () => {
    expect(parseProcStat('')).toBeUndefined();
    expect(parseProcStat('42 (x) S 1')).toBeUndefined();
  });
});
