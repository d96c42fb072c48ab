import type { LogLine } from '@mycelium/contracts/workloads';
import { describe, expect, it } from 'vitest';
import { LineSplitter, LogRing, newestWithin } from './log-ring.js';

const line = (text: string): LogLine => ({ at: '2030-01-01T00:00:00.000Z', stream: 'stdout', line: text });

describe('log ring', () => {
  it('keeps the newest lines up to its capacity, oldest first', () => {
    const ring = new LogRing(3);
    for (const text of ['a', 'b', 'c', 'd', 'e']) ring.push(line(text));
    expect(ring.size).toBe(3);
    expect(ring.tail(10).map((entry) => entry.line)).toEqual(['c', 'd', 'e']);
    expect(ring.tail(2).map((entry) => entry.line)).toEqual(['d', 'e']);
    expect(ring.tail(0)).toEqual([]);
  });

  it('answers with what it has before it is full', () => {
    const ring = new LogRing(5000);
    ring.push(line('only'));
    expect(ring.tail(200).map((entry) => entry.line)).toEqual(['only']);
  });

  it('trims a reply to the newest lines that fit a payload', () => {
    const lines = ['one', 'two', 'three'].map(line);
    const size = (entries: LogLine[]) => Buffer.byteLength(JSON.stringify(entries));
    expect(newestWithin(lines, size(lines))).toEqual(lines);
    expect(newestWithin(lines, size(lines) - 1)).toEqual(lines.slice(1));
    expect(newestWithin(lines, 10)).toEqual([]);
  });
});

describe('line splitter', () => {
  it('splits chunks into lines across chunk boundaries, dropping CR', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((text) => lines.push(text));
    splitter.write('hel');
    splitter.write('lo\r\nwor');
    splitter.write('ld\n\nlast');
    splitter.end();
    expect(lines).toEqual(['hello', 'world', '', 'last']);
  });

  it('cuts a line that never ends at the limit and drops the rest of it', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((text) => lines.push(text), 8);
    splitter.write('0123456789');
    splitter.write('abcdef\nnext\n');
    expect(lines).toEqual(['01234567 […]', 'next']);
  });
});
