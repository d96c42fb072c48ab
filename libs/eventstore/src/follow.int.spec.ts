import { openPostgresTestStore, type TestStore, waitFor } from '@mycelium/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followAll } from './follow.js';
import type { RecordedEvent } from './types.js';

describe('followAll', () => {
  let handle: TestStore;
  let admin: pg.Client;

  beforeAll(async () => {
    handle = await openPostgresTestStore({ maxIdleMs: 50 });
    admin = new pg.Client({ connectionString: handle.databaseUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await handle?.dispose();
  });

  it('catches up, follows, and resumes where it was after the store fails under it', async () => {
    const { store, schema } = handle;
    await store.append('follow/a', [{ type: 'Seen', data: { n: 1 } }]);
    await store.append('other/a', [{ type: 'Seen', data: { n: 0 } }]);
    const stop = new AbortController();
    const applied: RecordedEvent[] = [];
    const errors: unknown[] = [];
    let recoveries = 0;
    let caughtUpWith = -1;
    const following = followAll(store, {
      streamPrefixes: ['follow/'],
      signal: stop.signal,
      apply: (events) => {
        for (const event of events) if (!applied.some((seen) => seen.position === event.position)) applied.push(event);
      },
      onCaughtUp: () => (caughtUpWith = applied.length),
      onError: (error) => errors.push(error),
      onRecovered: () => (recoveries += 1),
      maxBackoffMs: 200,
    });
    await waitFor(() => caughtUpWith === 1, { what: 'the catch-up' });

    await store.append('follow/a', [{ type: 'Seen', data: { n: 2 } }]);
    await waitFor(() => applied.length === 2, { what: 'the followed event' });

    // The log goes away (as in a restart) and comes back: reads fail meanwhile, then resume.
    await admin.query(`ALTER TABLE ${schema}.events RENAME TO events_away`);
    await waitFor(() => errors.length >= 2, { what: 'failed reads' });
    await admin.query(`ALTER TABLE ${schema}.events_away RENAME TO events`);
    await waitFor(() => recoveries === 1, { what: 'the recovery, with nothing new to read' });
    await store.append('follow/b', [{ type: 'Seen', data: { n: 3 } }]);
    await waitFor(() => applied.length === 3, { what: 'the event after the outage' });

    stop.abort();
    await following;
    expect(applied.map((event) => (event.data as { n: number }).n)).toEqual([1, 2, 3]);
    expect(String(errors[0])).toMatch(/events/);
  });

  it('ends when the store is closed', async () => {
    const own = await openPostgresTestStore();
    const following = followAll(own.store, { signal: new AbortController().signal, apply: () => undefined });
    await own.dispose();
    await expect(following).resolves.toBeUndefined();
  });
});
