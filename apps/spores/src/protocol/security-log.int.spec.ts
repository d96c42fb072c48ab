import { createLogger } from '@mycelium/telemetry';
import { openPGliteTestStore, type TestStore } from '@mycelium/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecurityLog } from './security-log.js';

const node = (n: number) => n.toString(16).padStart(20, '0');
const logger = createLogger({ name: 'security-log-test', level: 'silent' });

describe('security log', () => {
  let db: TestStore;
  beforeEach(async () => (db = await openPGliteTestStore()));
  afterEach(() => db.dispose());

  const recorded = async (stream: string) => (await db.store.readStream(`spores/security/${stream}`)).map((event) => event.data as { code: string; suppressed: number; claimedNodeId?: string });

  it('records one refusal per proven sender and code a minute, counting the rest in the next', async () => {
    const log = new SecurityLog(db.store, logger);
    const t0 = Date.now();
    for (let i = 0; i < 5; i += 1) await log.record({ nodeId: node(1), subject: 'agent.x.heartbeat', code: 'REPLAY', reason: 'again' }, t0 + i);
    await log.record({ nodeId: node(1), subject: 'agent.x.heartbeat', code: 'STALE_TIMESTAMP', reason: 'old' }, t0);
    await log.record({ nodeId: node(2), subject: 'agent.y.heartbeat', code: 'REPLAY', reason: 'again' }, t0);
    await log.record({ nodeId: node(1), subject: 'agent.x.heartbeat', code: 'REPLAY', reason: 'later' }, t0 + 61_000);
    expect((await recorded(node(1))).map(({ code, suppressed }) => [code, suppressed])).toEqual([
      ['REPLAY', 0],
      ['STALE_TIMESTAMP', 0],
      ['REPLAY', 4],
    ]);
    expect(await recorded(node(2))).toHaveLength(1);
  });

  it('gives unproven claims one shared allowance, however many ids they claim', async () => {
    const log = new SecurityLog(db.store, logger);
    for (let i = 0; i < 500; i += 1) await log.record({ claimedNodeId: `${node(i)}${'x'.repeat(1000)}`, subject: 'spores.agent.join', code: 'BAD_SIGNATURE', reason: 'forged' });
    const events = await recorded('unattributed');
    expect(events).toHaveLength(1);
    expect(events[0]!.claimedNodeId).toHaveLength(100);
    expect(await recorded(node(1))).toEqual([]);
    expect(log.tracked).toBe(1);
  });

  it('tracks a bounded number of senders; past it, new ones share an overflow allowance', async () => {
    const log = new SecurityLog(db.store, logger, { maxTracked: 3 });
    const t0 = Date.now();
    for (let i = 0; i < 50; i += 1) await log.record({ nodeId: node(i), subject: 'agent.x.heartbeat', code: 'MALFORMED', reason: 'junk' }, t0);
    // Three senders had their own allowance, the fourth the overflow one; the rest were held back.
    expect(log.tracked).toBe(4);
    const events = await Promise.all(Array.from({ length: 50 }, (_, i) => recorded(node(i))));
    expect(events.map((own) => own.length)).toEqual([1, 1, 1, 1, ...Array<number>(46).fill(0)]);
    // A minute later the old allowances are swept and new senders are tracked again.
    await log.record({ nodeId: node(99), subject: 'agent.x.heartbeat', code: 'MALFORMED', reason: 'junk' }, t0 + 61_000);
    expect(await recorded(node(99))).toHaveLength(1);
  });
});
