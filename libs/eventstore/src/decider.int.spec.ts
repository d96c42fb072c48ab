import { openPostgresTestStore, type TestStore } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Decider, handleCommand, handleCommands } from './decider.js';

/** A tally that takes each voter once: enough to see batches decided in order and refusals kept apart. */
type TallyCommand = { voter: string };
type TallyEvent = { type: 'Voted'; data: { voter: string } };
type TallyState = string[];

const tally: Decider<TallyCommand, TallyEvent, TallyState> = {
  decide: ({ voter }, voters) => {
    if (voter === '') throw new Error('a voter has a name');
    return voters.includes(voter) ? [] : [{ type: 'Voted', data: { voter } }];
  },
  evolve: (voters, event) => [...voters, event.data.voter],
  initialState: () => [],
};

describe('handleCommands', () => {
  let handle: TestStore;

  beforeAll(async () => {
    handle = await openPostgresTestStore();
  });
  afterAll(async () => {
    await handle?.dispose();
  });

  it('decides each command on the state the ones before it left and appends the accepted ones at once', async () => {
    const { store } = handle;
    const stream = `tally/${Date.now()}-batch`;
    const result = await handleCommands(store, stream, tally, [{ voter: 'a' }, { voter: '' }, { voter: 'b' }, { voter: 'a' }]);
    expect(result.state).toEqual(['a', 'b']);
    expect(result.outcomes.map((outcome) => (outcome.ok ? outcome.newEvents.length : (outcome.error as Error).message))).toEqual([1, 'a voter has a name', 1, 0]);
    expect(result.version).toBe(2);
    const events = await store.readStream(stream);
    expect(events.map((event) => event.data)).toEqual([{ voter: 'a' }, { voter: 'b' }]);
    // One append: both events come from one transaction, so their positions are adjacent.
    expect(events[1]!.position - events[0]!.position).toBe(1n);
  });

  it('appends nothing when every command is refused or changes nothing', async () => {
    const { store } = handle;
    const stream = `tally/${Date.now()}-none`;
    await handleCommand(store, stream, tally, { voter: 'a' });
    const result = await handleCommands(store, stream, tally, [{ voter: 'a' }, { voter: '' }]);
    expect(result.outcomes.map((outcome) => outcome.ok)).toEqual([true, false]);
    expect(result.position).toBeUndefined();
    expect(await store.readStream(stream)).toHaveLength(1);
  });

  it('decides the whole batch again on the fresher stream when another writer appended first', async () => {
    const { store } = handle;
    const stream = `tally/${Date.now()}-race`;
    // Two batches racing on one stream with overlapping voters: each voter is recorded once.
    const [first, second] = await Promise.all([
      handleCommands(store, stream, tally, [{ voter: 'a' }, { voter: 'b' }], { maxAttempts: 5 }),
      handleCommands(store, stream, tally, [{ voter: 'b' }, { voter: 'c' }], { maxAttempts: 5 }),
    ]);
    const voters = (await store.readStream(stream)).map((event) => (event.data as { voter: string }).voter);
    expect([...voters].sort()).toEqual(['a', 'b', 'c']);
    expect(Math.max(first.version, second.version)).toBe(3);
  });
});
