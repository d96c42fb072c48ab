import { join } from 'node:path';
import { ContractRegistry } from '@mycelium/contracts';
import { CommandClient } from '@mycelium/messaging';
import { openPostgresTestStore, openTestBus, startProcess, type TestBus, type TestProcess, type TestStore, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PingSent, PongRecorded, SendPing } from '../fixtures/ping-pong/contracts.js';

const main = join(import.meta.dirname, '..', 'dist', 'fixtures', 'ping-pong', 'main.js');
const PINGS = 600;

describe('relay failover across processes', () => {
  let db: TestStore;
  let bus: TestBus;
  const processes: TestProcess[] = [];

  const start = async (name: string, service: 'ping' | 'pong', relay: boolean) => {
    const started = startProcess(name, main, [service], {
      NATS_URL: bus.natsUrl,
      DATABASE_URL: db.databaseUrl,
      MYCELIUM_DB_SCHEMA: db.schema,
      MYCELIUM_NAMESPACE: bus.topology.namespace,
      MYCELIUM_RELAY: relay ? 'on' : 'off',
      PORT: '0',
    });
    processes.push(started);
    const up = await started.waitForLog((line) => line.msg === `${service} is up`);
    return { process: started, port: up.port as number };
  };
  const relayState = async (port: number) =>
    ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { checks: { relay: string } }).checks.relay;

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill('SIGTERM')));
    await bus?.dispose();
    await db?.dispose();
  });

  it('a command to one process reaches a consumer in another exactly once, through a SIGKILL of the active relay', async () => {
    const first = await start('ping-1', 'ping', true);
    await waitFor(async () => (await relayState(first.port)) === 'active', { what: 'the first relay to be active' });
    const second = await start('ping-2', 'ping', true);
    expect(await relayState(second.port)).toBe('standby');
    await start('pong', 'pong', false);

    const client = new CommandClient(bus.nc, bus.topology);
    const send = async (seq: number) => {
      // A command whose reply died with its process is sent again; a repeat is refused as a conflict.
      for (let attempt = 1; ; attempt += 1) {
        const reply = await client.send(SendPing, { seq }, { timeoutMs: 2000 });
        if (reply.ok || reply.error.code === 'CONFLICT') return;
        if (attempt === 10) throw new Error(`ping ${seq}: ${JSON.stringify(reply.error)}`);
      }
    };
    let killed = false;
    for (let seq = 1; seq <= PINGS; seq += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => send(seq + i)));
      if (!killed && seq > PINGS / 3) {
        killed = true;
        // Mid-stream: the relay has published some of these events and not yet checkpointed them.
        expect(await first.process.kill('SIGKILL')).toBe('SIGKILL');
      }
    }
    await waitFor(async () => (await relayState(second.port)) === 'active', { what: 'the standby relay to take over' });

    const pongs = async () => (await db.store.readStream('pong/tally/all')).map((event) => event.data as { seq: number });
    await waitFor(async () => (await pongs()).length >= PINGS, { timeoutMs: 60_000, what: `${PINGS} pongs` });
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const recorded = await pongs();
    expect(recorded).toHaveLength(PINGS);
    expect(new Set(recorded.map((pong) => pong.seq)).size).toBe(PINGS);
    const pings = await db.store.readAll({ types: [PingSent.type], maxCount: 10_000 });
    expect(pings.events).toHaveLength(PINGS);
    const perSubject = await bus.jsm.streams.info(bus.topology.eventsStream, { subjects_filter: bus.topology.subject('evt.ping.>') });
    expect(perSubject.state.subjects?.[bus.topology.subject('evt.ping.ping.ping-sent')]).toBe(PINGS);
    expect(new ContractRegistry([PongRecorded]).decodeEvent(PongRecorded.type, recorded[0])).toBeDefined();
  });
});
