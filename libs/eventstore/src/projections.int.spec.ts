import { openPGliteTestStore, openPostgresTestStore, type TestStore } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activateGeneration,
  type ProjectionDefinition,
  projectionGenerations,
  projectionRows,
  ProjectionRunner,
  recordedPointAt,
  replayProjection,
  startGeneration,
} from './projections.js';

/** Per stream: how many events, and the newest type. */
const counts = (name: string, step = 1): ProjectionDefinition => ({
  name,
  version: `counts-${step}`,
  filter: { streamPrefixes: ['shop/'] },
  evolve: (event, rowOf) => {
    const row = rowOf(event.streamId);
    if (event.type === 'shop.order-deleted.v1') return [{ key: event.streamId, row: undefined }];
    return [{ key: event.streamId, row: { count: ((row?.count as number | undefined) ?? 0) + step, lastType: event.type } }];
  },
});

/** Catches up until the runner has read past `position`: the log may hold back events a moment while other writers are in flight. */
async function catchUpTo(runner: ProjectionRunner, position: bigint): Promise<void> {
  for (let tries = 0; runner.position < position && tries < 200; tries += 1) {
    await runner.catchUp();
    if (runner.position < position) await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

for (const [adapter, open] of [
  ['PostgreSQL', () => openPostgresTestStore()],
  ['PGlite', () => openPGliteTestStore()],
] as const) {
  describe(`persistent projections - ${adapter}`, () => {
    let db: TestStore;

    beforeAll(async () => {
      db = await open();
    });
    afterAll(async () => {
      await db?.dispose();
    });

    it('folds the log into rows kept with every version, readable as they stood at any position', async () => {
      const { store } = db;
      const name = `counts-${Date.now()}`;
      const first = await store.append('shop/order/a', [{ type: 'shop.order-placed.v1', data: {} }]);
      const runner = await ProjectionRunner.open(store, counts(name), await startGeneration(store, counts(name)));
      await catchUpTo(runner, first.lastPosition);
      await store.append('shop/order/b', [{ type: 'shop.order-placed.v1', data: {} }]);
      await store.append('other/thing/x', [{ type: 'other.thing.v1', data: {} }]);
      await store.append('shop/order/a', [{ type: 'shop.order-paid.v1', data: {} }]);
      const last = await store.append('shop/order/b', [{ type: 'shop.order-deleted.v1', data: {} }]);
      const seen: bigint[] = [];
      await runner.catchUp((progress) => seen.push(progress.position));
      await catchUpTo(runner, last.lastPosition);
      expect(Object.fromEntries(runner.rows)).toEqual({ 'shop/order/a': { count: 2, lastType: 'shop.order-paid.v1' } });
      expect(seen.length).toBeGreaterThan(0);
      expect(Object.fromEntries(await projectionRows(store, name, runner.generation))).toEqual(Object.fromEntries(runner.rows));
      // Recorded at the end of each page folded: the first catch-up ended at the first event.
      expect(await recordedPointAt(store, name, runner.generation, first.lastPosition)).toBe(first.lastPosition);
      expect(Object.fromEntries(await projectionRows(store, name, runner.generation, { position: first.lastPosition }))).toEqual({ 'shop/order/a': { count: 1, lastType: 'shop.order-placed.v1' } });
      const [generation] = await projectionGenerations(store, name);
      expect(generation).toMatchObject({ status: 'building', position: runner.position, codeVersion: 'counts-1' });
    });

    it('rebuilds a new generation from the start while the old one serves, then swaps and drops the old rows', async () => {
      const { store } = db;
      const name = `rebuild-${Date.now()}`;
      await store.append(`shop/order/r${Date.now()}`, [{ type: 'shop.order-placed.v1', data: {} }]);
      const old = await ProjectionRunner.open(store, counts(name), await startGeneration(store, counts(name)));
      await catchUpTo(old, await store.headPosition());
      await activateGeneration(store, name, old.generation);
      const fresh = await ProjectionRunner.open(store, counts(name, 2), await startGeneration(store, counts(name, 2)));
      // While the new one builds, the active one still answers.
      expect((await projectionGenerations(store, name)).map((generation) => generation.status)).toEqual(['active', 'building']);
      expect((await projectionRows(store, name, old.generation)).size).toBeGreaterThan(0);
      await fresh.catchUp();
      await activateGeneration(store, name, fresh.generation);
      expect((await projectionGenerations(store, name)).map((generation) => generation.status)).toEqual(['retired', 'active']);
      expect((await projectionRows(store, name, old.generation)).size).toBe(0);
      const rows = [...(await projectionRows(store, name, fresh.generation)).values()];
      expect(rows.every((row) => (row.count as number) % 2 === 0)).toBe(true);
    });

    it('replays a slice: the same code reproduces the recorded rows exactly, changed code is reported', async () => {
      const { store } = db;
      const name = `replay-${Date.now()}`;
      const stream = `shop/order/p${Date.now()}`;
      const before = await store.append(stream, [{ type: 'shop.order-placed.v1', data: {} }]);
      const runner = await ProjectionRunner.open(store, counts(name), await startGeneration(store, counts(name)));
      await catchUpTo(runner, before.lastPosition);
      await store.append(stream, [{ type: 'shop.order-paid.v1', data: {} }, { type: 'shop.order-shipped.v1', data: {} }]);
      const other = `shop/order/q${Date.now()}`;
      const after = await store.append(other, [{ type: 'shop.order-placed.v1', data: {} }]);
      await catchUpTo(runner, after.lastPosition);
      const slice = { from: before.lastPosition, to: after.lastPosition };
      expect(await replayProjection(store, counts(name), runner.generation, slice)).toEqual({ ...slice, events: 3, touched: 2, differences: [] });
      // Ends between the points it recorded at are moved back to them.
      expect(await replayProjection(store, counts(name), runner.generation, { from: slice.from + 1n, to: slice.to + 5n })).toMatchObject({ ...slice, events: 3, differences: [] });
      const changed = await replayProjection(store, counts(name, 2), runner.generation, slice);
      expect(changed.differences.map((difference) => difference.key).sort()).toEqual([stream, other].sort());
      expect(changed.differences.find((difference) => difference.key === stream)).toEqual({
        key: stream,
        recorded: { count: 3, lastType: 'shop.order-shipped.v1' },
        replayed: { count: 5, lastType: 'shop.order-shipped.v1' },
      });
    });
  });
}
