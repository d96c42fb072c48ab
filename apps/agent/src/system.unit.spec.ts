import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureCapabilities, measureUsage } from './system.js';

describe('usage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usage-'));
  const capabilities = measureCapabilities(dir, { region: 'test', tags: [], agentVersion: 'test' });

  it('measures what is free, within what the node offers', () => {
    const { usage, failed } = measureUsage(dir, capabilities);
    expect(failed).toEqual([]);
    expect(usage.memoryFreeMiB).toBeLessThanOrEqual(capabilities.memoryMiB);
    expect(usage.diskFreeGiB).toBeLessThanOrEqual(capabilities.diskGiB);
  });

  it('keeps the last known value of a measure that fails, and says which', () => {
    const gone = join(dir, 'gone');
    const lastKnown = { cpuFree: 1, memoryFreeMiB: 512, diskFreeGiB: 7 };
    const { usage, failed } = measureUsage(gone, capabilities, lastKnown);
    expect(failed.map(({ measure }) => measure)).toEqual(['diskFreeGiB']);
    expect((failed[0]!.error as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(usage.diskFreeGiB).toBe(7);
    // Never measured: nothing is known to be free.
    expect(measureUsage(gone, capabilities).usage.diskFreeGiB).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
