import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lifecycleOf } from '@mycelium/contracts';
import { CommandClient, loadConfig, openRuntime, type RunningService, type Runtime, startService } from '@mycelium/messaging';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MuteService, NotificationQueued, notifierService } from './notifier.js';

describe('example internal service: the notifier', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let notifier: RunningService;
  let client: CommandClient;

  /** What a grid service's own start looks like in the log. */
  const instanceStarted = (service: 'spores' | 'billing', instanceId: string) =>
    db.store.append(`${service}/instance/${instanceId}`, [
      {
        type: lifecycleOf[service].started.type,
        data: { instanceId, service, version: '1.0.0', host: 'node-7', pid: 42, startedAt: new Date().toISOString() },
      },
    ]);
  const feed = async (service: string) => (await db.store.readStream(`notifier/feed/${service}`)).map((e) => (e.data as { text: string }).text);

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const config = {
      ...loadConfig({}, mkdtempSync(join(tmpdir(), 'notifier-'))),
      natsUrl: bus.natsUrl,
      databaseUrl: db.databaseUrl,
      schema: db.schema,
      namespace: bus.topology.namespace,
    };
    runtime = await openRuntime({ config, topology: bus.topology, logger: createLogger({ name: 'notifier-test', level: 'silent' }), relay: true });
    notifier = await startService(notifierService, runtime, { port: 0 });
    client = new CommandClient(bus.nc, bus.topology);
  });
  afterAll(async () => {
    await notifier?.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('consumes grid events and appends its own, in its own streams', async () => {
    await instanceStarted('spores', 'spores-a1');
    await waitFor(async () => (await feed('spores')).length === 1, { what: 'the notification' });
    expect(await feed('spores')).toEqual(['spores instance spores-a1 started on node-7']);
    // Its own start and events went through the same store and relay.
    await waitFor(async () => {
      const info = await bus.jsm.streams.info(bus.topology.eventsStream, { subjects_filter: bus.topology.subject('evt.notifier.>') });
      return (info.state.subjects?.[bus.topology.subject(NotificationQueued.subject)] ?? 0) >= 1;
    }, { what: 'the notification on JetStream' });
  });

  it('takes its own command, and then stays silent about a muted service', async () => {
    expect(await client.send(MuteService, { service: 'billing' })).toEqual({ ok: true, result: { muted: 'billing' } });
    expect(await client.send(MuteService, { service: 'billing' })).toMatchObject({ ok: false, error: { code: 'ILLEGAL_STATE' } });
    await instanceStarted('billing', 'billing-b1');
    await instanceStarted('spores', 'spores-a2');
    await waitFor(async () => (await feed('spores')).length === 2, { what: 'the later notification' });
    expect(await feed('billing')).toEqual([]);
  });

  it('refuses a command that breaks its contract', async () => {
    expect(await client.send(MuteService, { service: 'kitchen' })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED', field: 'service' },
    });
  });
});
