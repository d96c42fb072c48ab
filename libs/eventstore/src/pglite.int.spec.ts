import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPGliteTestStore } from '@mycelium/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreLockedError } from './errors.js';
import { openEventStore } from './open-event-store.js';
import { describeEventStoreContract } from './event-store.contract.js';

describeEventStoreContract('PGlite', () => openPGliteTestStore());

describe('PGlite store - files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-pglite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps events across a close and reopen of its data directory', async () => {
    const dataDir = join(dir, 'persist');
    const first = await openEventStore({ dataDir });
    await first.append('test/thing/1', [{ type: 'kept.v1', data: { n: 1 } }]);
    await first.close();
    const second = await openEventStore({ dataDir });
    try {
      expect((await second.readStream('test/thing/1')).map((e) => e.data)).toEqual([{ n: 1 }]);
    } finally {
      await second.close();
    }
  });

  it('refuses a second opener of the same directory with a reason', async () => {
    const dataDir = join(dir, 'locked');
    const first = await openEventStore({ dataDir });
    try {
      await expect(openEventStore({ dataDir })).rejects.toBeInstanceOf(StoreLockedError);
    } finally {
      await first.close();
    }
  });
});

describe('PGlite store - positions', () => {
  it('orders positions as numbers where they gain a digit', async () => {
    // A new embedded database starts at a low transaction id, so a few hundred appends carry the
    // positions across a power of ten, where text order and number order disagree.
    const store = await openEventStore();
    try {
      const first = await store.append('test/digits/1', [{ type: 'd.v1', data: 0 }]);
      const digits = (position: bigint) => position.toString().length;
      let last = first.lastPosition;
      for (let n = 1; digits(last) === digits(first.lastPosition); n += 1) {
        if (n > 5000) throw new Error('positions did not gain a digit');
        last = (await store.append('test/digits/1', [{ type: 'd.v1', data: n }])).lastPosition;
      }
      const page = await store.readAll({ maxCount: 10_000 });
      const versions = page.events.map((e) => e.streamVersion);
      expect(versions).toEqual(versions.map((_, i) => i + 1));
    } finally {
      await store.close();
    }
  });
});
