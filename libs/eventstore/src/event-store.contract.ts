import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStore, waitFor } from '@mycelium/testing';
import { EventStoreClosedError, InvalidAppendError, WrongExpectedVersionError } from './errors.js';
import type { EventStore, EventStoreTransaction, RecordedEvent } from './types.js';

let counter = 0;
/** A stream id unique to one test, so tests in one store never see each other's streams. */
function streamOf(aggregate = 'thing'): string {
  counter += 1;
  return `test/${aggregate}/${process.pid}-${Date.now()}-${counter}`;
}

const event = (type: string, data: unknown = {}) => ({ type, data });

async function collect(iterable: AsyncIterable<RecordedEvent>, count: number): Promise<RecordedEvent[]> {
  const seen: RecordedEvent[] = [];
  for await (const recorded of iterable) {
    seen.push(recorded);
    if (seen.length === count) break;
  }
  return seen;
}

/** The behaviour every event store adapter must have; run once per adapter. */
export function describeEventStoreContract(adapter: string, open: () => Promise<TestStore>): void {
  describe(`event store contract - ${adapter}`, () => {
    let handle: TestStore;
    let store: EventStore;

    beforeAll(async () => {
      handle = await open();
      store = handle.store;
    });
    afterAll(async () => {
      await handle?.dispose();
    });
    /** Until `count` events of `stream` after `start` can be read from the whole log. */
    const visible = (stream: string, start: bigint, count: number) =>
      waitFor(async () => (await store.readAll({ after: start, streamPrefixes: [stream] })).events.length >= count, { what: `${count} events of ${stream} in the log` });

    describe('append and read a stream', () => {
      it('numbers a new stream 1..n and reads it back in order with data and metadata', async () => {
        const stream = streamOf();
        const result = await store.append(
          stream,
          [
            { type: 'thing-created.v1', data: { name: 'a' }, metadata: { correlationId: 'c-1', tenant: 't-1' } },
            { type: 'thing-renamed.v1', data: { name: 'b' } },
          ],
          { expectedVersion: 'no-stream' },
        );
        expect(result.nextExpectedVersion).toBe(2);
        expect(result.lastPosition).toBeGreaterThan(result.firstPosition);
        const events = await store.readStream(stream);
        expect(events.map((e) => [e.streamVersion, e.type, e.data])).toEqual([
          [1, 'thing-created.v1', { name: 'a' }],
          [2, 'thing-renamed.v1', { name: 'b' }],
        ]);
        expect(events[0]!.metadata).toMatchObject({ correlationId: 'c-1', tenant: 't-1' });
        expect(events.map((e) => e.id)).toEqual(result.eventIds);
        expect(events[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(events[0]!.recordedAt).toBeInstanceOf(Date);
        expect(await store.streamVersion(stream)).toBe(2);
      });

      it('keeps an id the caller chose', async () => {
        const stream = streamOf();
        const id = '01890a5d-ac96-774b-bcce-b302099a8057';
        await store.append(stream, [{ id, type: 'x.v1', data: null }]);
        expect((await store.readStream(stream))[0]!.id).toBe(id);
      });

      it('reads from a version and at most maxCount events', async () => {
        const stream = streamOf();
        await store.append(stream, [1, 2, 3, 4, 5].map((n) => event('n.v1', { n })));
        const events = await store.readStream(stream, { fromVersion: 2, maxCount: 3 });
        expect(events.map((e) => (e.data as { n: number }).n)).toEqual([2, 3, 4]);
      });

      it('reads an unknown stream as empty at version 0', async () => {
        const stream = streamOf();
        expect(await store.readStream(stream)).toEqual([]);
        expect(await store.streamVersion(stream)).toBe(0);
      });
    });

    describe('expected version', () => {
      it('refuses no-stream when the stream exists, reporting the actual version', async () => {
        const stream = streamOf();
        await store.append(stream, [event('a.v1')], { expectedVersion: 'no-stream' });
        const attempt = store.append(stream, [event('b.v1')], { expectedVersion: 'no-stream' });
        await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(attempt).rejects.toMatchObject({ code: 'WRONG_EXPECTED_VERSION', actual: 1, expected: 'no-stream' });
        expect(await store.streamVersion(stream)).toBe(1);
      });

      it('appends at the exact version and refuses a stale one without writing anything', async () => {
        const stream = streamOf();
        await store.append(stream, [event('a.v1'), event('b.v1')]);
        await store.append(stream, [event('c.v1')], { expectedVersion: 2 });
        await expect(store.append(stream, [event('d.v1'), event('e.v1')], { expectedVersion: 2 })).rejects.toMatchObject({
          actual: 3,
          expected: 2,
        });
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['a.v1', 'b.v1', 'c.v1']);
      });

      it('treats an exact version on a missing stream as a conflict, not a creation', async () => {
        const stream = streamOf();
        await expect(store.append(stream, [event('a.v1')], { expectedVersion: 3 })).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
        expect(await store.streamVersion(stream)).toBe(0);
      });

      it('needs stream-exists streams to exist', async () => {
        const stream = streamOf();
        await expect(store.append(stream, [event('a.v1')], { expectedVersion: 'stream-exists' })).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
        await store.append(stream, [event('a.v1')]);
        const result = await store.append(stream, [event('b.v1')], { expectedVersion: 'stream-exists' });
        expect(result.nextExpectedVersion).toBe(2);
      });

      it('lets exactly one of many concurrent writers at the same version win', async () => {
        const stream = streamOf();
        await store.append(stream, [event('a.v1')]);
        const attempts = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.append(stream, [event('race.v1', { i })], { expectedVersion: 1 })),
        );
        expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
        for (const failed of attempts.filter((a) => a.status === 'rejected')) {
          expect((failed as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
        }
        expect(await store.streamVersion(stream)).toBe(2);
      });
    });

    describe('concurrent writers', () => {
      it('gives concurrent appends with no expectation distinct versions, losing none', async () => {
        const stream = streamOf();
        await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(stream, [event('any.v1', { i })])));
        const events = await store.readStream(stream);
        expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(new Set(events.map((e) => (e.data as { i: number }).i)).size).toBe(10);
      });

      it('serialises appends with no expectation inside concurrent transactions', async () => {
        const stream = streamOf();
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            store.transaction(async (tx) => {
              await tx.append(stream, [event('tx-any.v1', { i })]);
              await tx.append(stream, [event('tx-any.v1', { i, second: true })]);
            }),
          ),
        );
        expect((await store.readStream(stream)).map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      });

      it('lets appends with no expectation inside transactions race plain appends without failing', async () => {
        const stream = streamOf();
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            i % 2 === 0
              ? store.append(stream, [event('plain.v1', { i })])
              : store.transaction(async (tx) => {
                  await tx.append(stream, [event('in-tx.v1', { i })]);
                }),
          ),
        );
        expect((await store.readStream(stream)).map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      });

      it('fails the losing transaction of a version race and rolls back its other writes', async () => {
        const stream = streamOf();
        const consumer = `race-${stream}`;
        await store.append(stream, [event('a.v1')]);
        const ids = ['01890a5d-ac96-774b-bcce-b302099a8060', '01890a5d-ac96-774b-bcce-b302099a8061'];
        const outcomes = await Promise.allSettled(
          ids.map((id) =>
            store.transaction(async (tx) => {
              await tx.markHandled(consumer, id);
              await tx.append(stream, [event('b.v1', { id })], { expectedVersion: 1 });
            }),
          ),
        );
        const lost = outcomes.findIndex((o) => o.status === 'rejected');
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        expect((outcomes[lost] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
        expect(await store.streamVersion(stream)).toBe(2);
        // the loser's inbox entry was rolled back with it, so its event can be handled again
        expect(await store.transaction((tx) => tx.markHandled(consumer, ids[lost]!))).toBe(true);
      });
    });

    describe('bad appends', () => {
      it.each([
        ['no events', 'test/x/1', []],
        ['an empty stream id', '', [event('a.v1')]],
        ['an event without a type', 'test/x/1', [{ type: '', data: {} }]],
      ])('refuses %s', async (_what, stream, events) => {
        await expect(store.append(stream, events)).rejects.toBeInstanceOf(InvalidAppendError);
      });

      it('refuses a negative expected version', async () => {
        await expect(store.append(streamOf(), [event('a.v1')], { expectedVersion: -1 })).rejects.toBeInstanceOf(
          InvalidAppendError,
        );
      });

      it('refuses to rewrite history', async () => {
        const stream = streamOf();
        await store.append(stream, [event('a.v1')]);
        await expect(store.query(`UPDATE ${store.schema}.events SET type = 'forged' WHERE stream_id = $1`, [stream])).rejects.toThrow(
          /append-only/,
        );
        await expect(store.query(`DELETE FROM ${store.schema}.events WHERE stream_id = $1`, [stream])).rejects.toThrow(
          /append-only/,
        );
        expect((await store.readStream(stream))[0]!.type).toBe('a.v1');
      });
    });

    describe('read all', () => {
      it('returns every stream in one increasing order, resuming after a position', async () => {
        const start = await store.headPosition();
        const a = streamOf();
        const b = streamOf();
        await store.append(a, [event('a1.v1')]);
        await store.append(b, [event('b1.v1'), event('b2.v1')]);
        await store.append(a, [event('a2.v1')]);
        const page = await store.readAll({ after: start, streamPrefixes: ['test/'] });
        const mine = page.events.filter((e) => e.streamId === a || e.streamId === b);
        expect(mine.map((e) => e.type)).toEqual(['a1.v1', 'b1.v1', 'b2.v1', 'a2.v1']);
        const positions = page.events.map((e) => e.position);
        expect([...positions].sort((x, y) => (x < y ? -1 : 1))).toEqual(positions);
        expect(new Set(positions).size).toBe(positions.length);

        const resumed = await store.readAll({ after: mine[1]!.position });
        expect(resumed.events.filter((e) => e.streamId === a || e.streamId === b).map((e) => e.type)).toEqual([
          'b2.v1',
          'a2.v1',
        ]);
      });

      it('pages with maxCount and says when a page is full', async () => {
        const start = await store.headPosition();
        const stream = streamOf('paged');
        await store.append(stream, [1, 2, 3, 4, 5].map((n) => event('p.v1', { n })));
        // Reading all waits for writers in flight elsewhere in the database (docs/adr/0003): until they
        // finish, the newest events may be held back, never skipped.
        await visible(stream, start, 5);
        const first = await store.readAll({ after: start, maxCount: 3, streamPrefixes: [stream] });
        expect(first.isFull).toBe(true);
        expect(first.events.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3]);
        const second = await store.readAll({ after: first.next, maxCount: 3, streamPrefixes: [stream] });
        expect(second.isFull).toBe(false);
        expect(second.events.map((e) => (e.data as { n: number }).n)).toEqual([4, 5]);
        expect(second.next).toBeGreaterThanOrEqual(second.events.at(-1)!.position);
      });

      it('filters by stream prefix literally and by event type', async () => {
        const start = await store.headPosition();
        const unique = `${process.pid}${Date.now()}`;
        await store.append(`billing/acc_ount/${unique}`, [event('mycelium.billing.credited.v1')]);
        await store.append(`billing/accXount/${unique}`, [event('mycelium.billing.credited.v1')]);
        await store.append(`spores/node/${unique}`, [event('mycelium.spores.node-joined.v1'), event('mycelium.spores.node-left.v1')]);
        const byPrefix = await store.readAll({ after: start, streamPrefixes: ['billing/acc_ount/'] });
        expect(byPrefix.events.map((e) => e.streamId)).toEqual([`billing/acc_ount/${unique}`]);
        const byType = await store.readAll({ after: start, types: ['mycelium.spores.node-left.v1'] });
        expect(byType.events.map((e) => e.type)).toEqual(['mycelium.spores.node-left.v1']);
        const both = await store.readAll({
          after: start,
          streamPrefixes: ['spores/', 'billing/accX'],
          types: ['mycelium.billing.credited.v1', 'mycelium.spores.node-joined.v1'],
        });
        expect(both.events.map((e) => e.streamId)).toEqual([`billing/accXount/${unique}`, `spores/node/${unique}`]);
      });

      it('finds the events about an id: in a stream id, as a whole data value, or as correlation, causation or tenant', async () => {
        const start = await store.headPosition();
        const id = `app_${process.pid}${Date.now()}`;
        const inStream = await store.append(`deployment/app/${id}`, [event('mycelium.deployment.app-deployed.v1', { appId: id })]);
        await store.append(`billing/account/acme-${id}`, [event('mycelium.billing.reserved.v1', { appId: id, amount: '1' })]);
        await store.append(`healing/incident/inc-${id}`, [{ type: 'mycelium.healing.incident-opened.v1', data: { subject: 'x' }, metadata: { correlationId: id } }]);
        await store.append(`healing/incident/other-${id}`, [{ type: 'mycelium.healing.incident-observed.v1', data: {}, metadata: { causationId: id } }]);
        // A longer id that merely contains this one as a data value is not this one.
        await store.append(`billing/account/zeta-${process.pid}`, [event('mycelium.billing.reserved.v1', { appId: `${id}9` })]);
        await store.append(streamOf(), [event('unrelated.v1', { note: 'nothing' })]);
        const found = await store.readAll({ after: start, mentioning: id });
        expect(found.events.map((e) => e.streamId)).toEqual([
          `deployment/app/${id}`,
          `billing/account/acme-${id}`,
          `healing/incident/inc-${id}`,
          `healing/incident/other-${id}`,
        ]);
        // A value with LIKE's wildcards is taken literally.
        expect(found.events[0]!.position).toBe(inStream.firstPosition);
        expect((await store.readAll({ after: start, mentioning: '%' })).events).toEqual([]);
        expect((await store.readAll({ after: start, mentioning: 'acme', streamPrefixes: ['healing/'] })).events).toEqual([]);
      });

      it('reads by recording time', async () => {
        const stream = streamOf('timed');
        await store.append(stream, [event('early.v1')]);
        await new Promise((resolve) => setTimeout(resolve, 30));
        const [early] = await store.readStream(stream);
        const middle = new Date(early!.recordedAt.getTime() + 15);
        await store.append(stream, [event('late.v1')]);
        const [, late] = await store.readStream(stream);
        const window = { streamPrefixes: [stream] };
        const before = await store.readAllByTime({ ...window, from: new Date(0), to: middle });
        const after = await store.readAllByTime({ ...window, from: middle, to: new Date(late!.recordedAt.getTime() + 1) });
        expect(before.events.map((e) => e.type)).toEqual(['early.v1']);
        expect(after.events.map((e) => e.type)).toEqual(['late.v1']);
      });
    });

    describe('subscribe to all', () => {
      it('catches up, then delivers new events live, in order, and stops on abort', async () => {
        const start = await store.headPosition();
        const stream = streamOf('live');
        await store.append(stream, [event('old.v1')]);
        const abort = new AbortController();
        const seen: RecordedEvent[] = [];
        const done = (async () => {
          for await (const recorded of store.subscribeAll({ after: start, streamPrefixes: [stream], signal: abort.signal })) {
            seen.push(recorded);
          }
        })();
        await waitFor(() => seen.length === 1);
        await store.append(stream, [event('new1.v1'), event('new2.v1')]);
        await waitFor(() => seen.length === 3);
        abort.abort();
        await done;
        expect(seen.map((e) => e.type)).toEqual(['old.v1', 'new1.v1', 'new2.v1']);
      });

      it('filters a live subscription by type', async () => {
        const start = await store.headPosition();
        const stream = streamOf('typed');
        const iterable = store.subscribeAll({ after: start, types: ['wanted.v1'], streamPrefixes: [stream] });
        const received = collect(iterable, 2);
        await store.append(stream, [event('unwanted.v1'), event('wanted.v1', { n: 1 })]);
        await store.append(stream, [event('unwanted.v1'), event('wanted.v1', { n: 2 })]);
        expect((await received).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
      });
    });

    describe('transactions', () => {
      it('commits appends to several streams and the caller’s own writes together', async () => {
        const a = streamOf();
        const b = streamOf();
        const result = await store.transaction(async (tx) => {
          const first = await tx.append(a, [event('a.v1')]);
          const second = await tx.append(b, [event('b.v1'), event('b2.v1')]);
          await tx.saveCheckpoint(`cp-${a}`, 42n);
          return [first, second];
        });
        expect(result[1]!.firstPosition).toBeGreaterThan(result[0]!.lastPosition);
        expect(await store.streamVersion(a)).toBe(1);
        expect(await store.streamVersion(b)).toBe(2);
        expect(await store.loadCheckpoint(`cp-${a}`)).toBe(42n);
      });

      it('rolls back every append when the work fails', async () => {
        const a = streamOf();
        const b = streamOf();
        await store.append(b, [event('b.v1')]);
        await expect(
          store.transaction(async (tx) => {
            await tx.append(a, [event('a.v1')]);
            await tx.markHandled('rollback-test', '01890a5d-ac96-774b-bcce-b302099a8058');
            await tx.append(b, [event('b2.v1')], { expectedVersion: 'no-stream' });
          }),
        ).rejects.toBeInstanceOf(WrongExpectedVersionError);
        expect(await store.readStream(a)).toEqual([]);
        expect(await store.streamVersion(b)).toBe(1);
        const handledAgain = await store.transaction((tx) => tx.markHandled('rollback-test', '01890a5d-ac96-774b-bcce-b302099a8058'));
        expect(handledAgain).toBe(true);
      });

      it('appends to several streams in one statement, each at its version, positions in the order given', async () => {
        const existing = streamOf();
        const fresh = streamOf();
        await store.append(existing, [event('a.v1')]);
        const [first, second] = await store.transaction(async (tx) => {
          const before = await tx.append(streamOf(), [event('earlier.v1')]);
          const results = await tx.appendMany([
            { streamId: existing, events: [event('a2.v1', { n: 2 }), event('a3.v1', { n: 3 })], expectedVersion: 1 },
            { streamId: fresh, events: [event('b.v1', { n: 1 })], expectedVersion: 'no-stream' },
          ]);
          expect(results[0]!.firstPosition).toBeGreaterThan(before.lastPosition);
          return results;
        });
        expect(first).toMatchObject({ nextExpectedVersion: 3 });
        expect(second).toMatchObject({ nextExpectedVersion: 1 });
        expect(second!.firstPosition).toBe(first!.lastPosition + 1n);
        expect((await store.readStream(existing)).map((e) => [e.streamVersion, e.type, e.data])).toEqual([
          [1, 'a.v1', {}],
          [2, 'a2.v1', { n: 2 }],
          [3, 'a3.v1', { n: 3 }],
        ]);
        expect((await store.readStream(fresh)).map((e) => e.id)).toEqual(second!.eventIds);
      });

      it('appends to none of the streams when one is not at its expected version, naming it', async () => {
        const moved = streamOf();
        const other = streamOf();
        const created = streamOf();
        await store.append(moved, [event('a.v1'), event('a2.v1')]);
        await store.append(created, [event('c.v1')]);
        const refusal = (appends: Parameters<EventStoreTransaction['appendMany']>[0]) => store.transaction((tx) => tx.appendMany(appends)).catch((error: unknown) => error);
        const stale = await refusal([
          { streamId: other, events: [event('b.v1')], expectedVersion: 'no-stream' },
          { streamId: moved, events: [event('a3.v1')], expectedVersion: 1 },
        ]);
        expect(stale).toBeInstanceOf(WrongExpectedVersionError);
        expect(stale).toMatchObject({ streamId: moved, expected: 1 });
        // Expecting more than a stream has writes nothing either, and says where the stream is.
        const ahead = await refusal([
          { streamId: other, events: [event('b.v1')], expectedVersion: 'no-stream' },
          { streamId: moved, events: [event('a3.v1')], expectedVersion: 5 },
        ]);
        expect(ahead).toMatchObject({ streamId: moved, expected: 5, actual: 2 });
        const exists = await refusal([
          { streamId: other, events: [event('b.v1')], expectedVersion: 'no-stream' },
          { streamId: created, events: [event('c2.v1')], expectedVersion: 'no-stream' },
        ]);
        expect(exists).toBeInstanceOf(WrongExpectedVersionError);
        expect(exists).toMatchObject({ streamId: created });
        expect(await store.streamVersion(other)).toBe(0);
        expect(await store.streamVersion(moved)).toBe(2);
        await expect(store.transaction((tx) => tx.appendMany([
          { streamId: other, events: [event('b.v1')], expectedVersion: 0 },
          { streamId: other, events: [event('b2.v1')], expectedVersion: 1 },
        ]))).rejects.toBeInstanceOf(InvalidAppendError);
      });

      it('reads several streams at once, a missing one as empty', async () => {
        const a = streamOf();
        const b = streamOf();
        const missing = streamOf();
        await store.append(a, [event('a.v1'), event('a2.v1')]);
        await store.append(b, [event('b.v1')]);
        const streams = await store.transaction((tx) => tx.readStreams([a, b, missing]));
        expect([...streams.keys()].sort()).toEqual([a, b, missing].sort());
        expect(streams.get(a)!.map((e) => [e.streamVersion, e.type])).toEqual([[1, 'a.v1'], [2, 'a2.v1']]);
        expect(streams.get(b)!.map((e) => e.type)).toEqual(['b.v1']);
        expect(streams.get(missing)).toEqual([]);
      });

      it('reports an event as already handled the second time (inbox)', async () => {
        const consumer = `inbox-${streamOf()}`;
        const id = '01890a5d-ac96-774b-bcce-b302099a8059';
        expect(await store.transaction((tx) => tx.markHandled(consumer, id))).toBe(true);
        expect(await store.transaction((tx) => tx.markHandled(consumer, id))).toBe(false);
        expect(await store.transaction((tx) => tx.markHandled(`${consumer}-other`, id))).toBe(true);
      });
    });

    describe('checkpoints and leases', () => {
      it('saves and overwrites a checkpoint; an unknown one is undefined', async () => {
        const name = `cp-${streamOf()}`;
        expect(await store.loadCheckpoint(name)).toBeUndefined();
        await store.saveCheckpoint(name, 7n);
        await store.saveCheckpoint(name, 2n ** 60n);
        expect(await store.loadCheckpoint(name)).toBe(2n ** 60n);
      });

      it('grants a lease to one holder at a time', async () => {
        const name = `lease-${streamOf()}`;
        const first = await store.tryAcquireLease(name);
        expect(first?.isHeld).toBe(true);
        expect(await store.tryAcquireLease(name)).toBeUndefined();
        await first!.release();
        await first!.lost;
        const second = await store.tryAcquireLease(name);
        expect(second?.isHeld).toBe(true);
        await second!.release();
      });
    });

    describe('closing', () => {
      it('lets reads in flight settle, and refuses new ones with a clear error', async () => {
        const own = await open();
        await own.store.append(`closing/${streamOf()}`, [{ type: 'Seen', data: {} }]);
        const reads = Array.from({ length: 5 }, () => own.store.readAll({ maxCount: 10 }).then(
          (page) => page.events.length,
          (error: unknown) => error,
        ));
        await own.dispose();
        for (const outcome of await Promise.all(reads)) expect(outcome === 1 || outcome instanceof Error).toBe(true);
        await expect(own.store.readAll()).rejects.toBeInstanceOf(EventStoreClosedError);
      });
    });
  });
}
