import { Writable } from 'node:stream';
import { openPostgresTestStore, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from './api-keys.js';

describe('ApiKeys', () => {
  let db: TestStore;
  let keys: ApiKeys;
  const logged: { level: string; msg: string }[] = [];

  beforeAll(async () => {
    // Short idle polls: the projection notices the broken table without waiting for an append.
    db = await openPostgresTestStore({ maxIdleMs: 50 });
    const destination = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(line) as { level: string; msg: string });
        done();
      },
    });
    keys = new ApiKeys(db.store, createLogger({ name: 'api-keys-test', level: 'warn', destination }));
    keys.onModuleInit();
    await keys.ready;
  });
  afterAll(async () => {
    keys?.onModuleDestroy();
    await db?.dispose();
  });

  it('knows a key as soon as it is issued, and keeps no waiter once it has answered', async () => {
    const issued = await Promise.all([1, 2, 3].map((i) => keys.issue({ name: `reader ${i}`, scopes: ['nodes:read'] })));
    for (const { key, keyId } of issued) expect(keys.check(key)).toMatchObject({ keyId, scopes: ['nodes:read'] });
    expect(keys.status().waitingIssues).toBe(0);
  });

  it('refuses a revoked key from the moment revoke answers, and lists keys without their secrets', async () => {
    const issued = await keys.issue({ name: 'to revoke', scopes: ['events:read'], tenant: 'acme' });
    expect(keys.check(issued.key)).toBeDefined();
    expect(await keys.revoke(issued.keyId, 'leaked in a log')).toBe(true);
    expect(keys.check(issued.key)).toBeUndefined();
    expect(await keys.revoke(issued.keyId, 'again')).toBe(false);
    await expect(keys.revoke('0000000000000000', 'unknown')).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'keyId' });
    const listed = keys.list('acme');
    expect(listed).toEqual([expect.objectContaining({ keyId: issued.keyId, name: 'to revoke', tenant: 'acme', scopes: ['events:read'], revokedAt: expect.any(String) })]);
    expect(JSON.stringify(keys.list())).not.toMatch(/secretHash|myc_/);
  });

  it('resumes from where it stopped after the event store fails, logging each failure, and then accepts new keys', async () => {
    const before = await keys.issue({ name: 'before', scopes: ['admin'] });
    // A real store failure: the events table is gone for a while (as during a restore or a failover).
    await db.store.query(`ALTER TABLE ${db.schema}.events RENAME TO events_away`);
    try {
      await waitFor(() => keys.status().failures >= 2, { what: 'two failed reads' });
      expect(keys.status()).toMatchObject({ ready: true, state: 'retrying', lastError: expect.stringMatching(/events/) });
      expect(logged.filter((line) => /API key projection lost the event store/.test(line.msg)).length).toBeGreaterThanOrEqual(2);
      // Keys known before the failure still work.
      expect(keys.check(before.key)).toBeDefined();
    } finally {
      await db.store.query(`ALTER TABLE ${db.schema}.events_away RENAME TO events`);
    }
    const after = await keys.issue({ name: 'after', scopes: ['admin'] });
    expect(keys.check(after.key)).toMatchObject({ keyId: after.keyId });
    expect(keys.status()).toMatchObject({ ready: true, state: 'following', failures: 0 });
  });

  it('lets a bounded number of requests wait for the keys to load, and forgets each once answered', async () => {
    const loading = new ApiKeys(db.store, createLogger({ name: 'api-keys-test', level: 'silent' }));
    expect(await loading.whenReady(20)).toBe(false);
    expect(loading.status().waitingRequests).toBe(0);
    const waits = Array.from({ length: 1000 }, () => loading.whenReady(60_000));
    expect(loading.status().waitingRequests).toBe(1000);
    // One too many is told at once, not after its minute.
    const overflow = await Promise.race([loading.whenReady(60_000), new Promise((resolve) => setTimeout(resolve, 5000, 'still waiting'))]);
    expect(overflow).toBe(false);
    loading.onModuleInit();
    expect(new Set(await Promise.all(waits))).toEqual(new Set([true]));
    expect(loading.status().waitingRequests).toBe(0);
    loading.onModuleDestroy();
  });
});
