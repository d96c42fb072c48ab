import { randomInt } from 'node:crypto';
import { openPostgresTestStore, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEventStore } from './open-event-store.js';
import type { EventStore, RecordedEvent } from './types.js';

const WRITERS = 50;
const ROUNDS = 20;
const TRANSACTIONS_PER_WRITER = 3;

describe('event store - commit order safety', () => {
  let handle: TestStore;
  let writer: EventStore;

  beforeAll(async () => {
    handle = await openPostgresTestStore();
    // One connection per writer, so all 50 transactions really are open at once.
    writer = await openEventStore({ databaseUrl: handle.databaseUrl, schema: handle.schema, poolSize: WRITERS });
  });
  afterAll(async () => {
    await writer?.close();
    await handle?.dispose();
  });

  it(`a tailing subscriber sees every event of ${WRITERS} concurrent writers once, in order, over ${ROUNDS} rounds`, async () => {
    const abort = new AbortController();
    const seen: RecordedEvent[] = [];
    const tailing = (async () => {
      for await (const event of handle.store.subscribeAll({ signal: abort.signal, batchSize: 97 })) seen.push(event);
    })();

    let written = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, w) => {
          for (let t = 0; t < TRANSACTIONS_PER_WRITER; t += 1) {
            const count = 1 + randomInt(3);
            await writer.transaction(async (tx) => {
              await tx.append(
                `test/writer/${round}-${w}`,
                Array.from({ length: count }, (_, n) => ({ type: 'written.v1', data: { round, w, t, n } })),
              );
              // Hold the transaction open for a while so later transactions commit before it:
              // exactly the case where a naive "position > last seen" reader skips events.
              if (randomInt(3) === 0) await tx.query('SELECT pg_sleep($1)', [randomInt(20) / 1000]);
            });
            written += count;
          }
        }),
      );
    }

    await waitFor(() => seen.length >= written, { timeoutMs: 30_000, what: `${written} events` });
    // Let any duplicate that would follow arrive before judging.
    await new Promise((resolve) => setTimeout(resolve, 300));
    abort.abort();
    await tailing;

    const inLog = await handle.store.query<{ id: string }>(
      `SELECT event_id AS id FROM ${handle.schema}.events ORDER BY position`,
    );
    expect(seen.length).toBe(written);
    expect(inLog.rows.length).toBe(written);
    expect(seen.map((e) => e.id)).toEqual(inLog.rows.map((row) => row.id));
    for (let i = 1; i < seen.length; i += 1) expect(seen[i]!.position > seen[i - 1]!.position).toBe(true);
  });
});
