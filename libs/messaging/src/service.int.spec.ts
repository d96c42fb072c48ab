import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Inject, Module } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { IsString, Length } from 'class-validator';
import { CommandRejection, defineCommand, defineEvent, ErrorCodes } from '@mycelium/contracts';
import { type Decider, type EventStore, handleCommand } from '@mycelium/eventstore';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandClient } from './commands.js';
import { loadConfig } from './config.js';
import { openRuntime, type RunningService, type Runtime, defineService, startService } from './service.js';
import { EVENT_STORE } from './tokens.js';
import { OnCommand, OnEvent } from './decorators.js';
import { CommandContext, EventContext } from './transport.js';

class RenameShelfV1 {
  @IsString()
  shelfId!: string;

  @IsString()
  @Length(1, 30)
  name!: string;
}

class ShelfRenamedV1 {
  @IsString()
  shelfId!: string;

  @IsString()
  name!: string;
}

const RenameShelf = defineCommand<RenameShelfV1, { version: number }>({
  service: 'library',
  name: 'shelf.rename',
  payload: RenameShelfV1,
  description: 'Gives a shelf a new name.',
});
const ShelfRenamed = defineEvent({
  service: 'library',
  aggregate: 'shelf',
  name: 'shelf-renamed',
  version: 1,
  payload: ShelfRenamedV1,
  description: 'A shelf got a new name.',
});

type ShelfEvent = { type: typeof ShelfRenamed.type; data: ShelfRenamedV1 };
const shelf: Decider<RenameShelfV1, ShelfEvent, { name?: string }> = {
  initialState: () => ({}),
  evolve: (_state, event) => ({ name: event.data.name }),
  decide: (command, state) => {
    if (state.name === command.name) {
      throw new CommandRejection({ code: ErrorCodes.IllegalState, message: `the shelf is already called ${command.name}`, field: 'name' });
    }
    return [{ type: ShelfRenamed.type, data: { shelfId: command.shelfId, name: command.name } }];
  },
};

@Controller()
class LibraryHandlers {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @OnCommand(RenameShelf)
  async rename(@Payload() command: RenameShelfV1, @Ctx() ctx: CommandContext): Promise<{ version: number }> {
    const { version } = await handleCommand(this.store, `library/shelf/${command.shelfId}`, shelf, command, {
      metadata: ctx.eventMetadata,
    });
    return { version };
  }

  @OnEvent(ShelfRenamed)
  async catalogue(@Payload() event: ShelfRenamedV1, @Ctx() ctx: EventContext): Promise<void> {
    if (!(event instanceof ShelfRenamedV1)) throw new Error('payload was not validated');
    await ctx.tx.append(`library/catalogue/${event.shelfId}`, [
      { type: 'mycelium.library.catalogue-updated.v1', data: { title: event.name }, metadata: ctx.eventMetadata },
    ]);
  }
}

@Module({ controllers: [LibraryHandlers] })
class LibraryModule {}

const library = defineService({ name: 'library', module: LibraryModule, contracts: [RenameShelf, ShelfRenamed] });

describe('a service on the Mycelium transport', () => {
  let db: TestStore;
  let bus: TestBus;
  let runtime: Runtime;
  let service: RunningService;
  let client: CommandClient;
  const url = (path: string) => `http://127.0.0.1:${service.port}${path}`;

  beforeAll(async () => {
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const config = {
      ...loadConfig({}, mkdtempSync(join(tmpdir(), 'mycelium-'))),
      natsUrl: bus.natsUrl,
      databaseUrl: db.databaseUrl,
      schema: db.schema,
      namespace: bus.topology.namespace,
    };
    runtime = await openRuntime({ config, topology: bus.topology, logger: createLogger({ name: 'host', level: 'silent' }), relay: true });
    service = await startService(library, runtime, { port: 0 });
    client = new CommandClient(bus.nc, bus.topology);
  });
  afterAll(async () => {
    await service?.stop();
    await runtime?.close();
    await bus?.dispose();
    await db?.dispose();
  });

  it('serves /healthz with the state of NATS, the store and the relay', async () => {
    const response = await fetch(url('/healthz'));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      service: 'library',
      instanceId: service.instanceId,
      checks: { nats: 'connected', eventStore: 'ok', relay: 'active' },
    });
  });

  it('records the instance start as an event in its own stream', async () => {
    const [started] = await db.store.readStream(`library/instance/${service.instanceId}`);
    expect(started).toMatchObject({ type: 'mycelium.library.instance-started.v1', data: { service: 'library', pid: process.pid } });
  });

  it('handles a command through its @MessagePattern, and the event through an @EventPattern in another stream', async () => {
    const reply = await client.send(RenameShelf, { shelfId: 's1', name: 'Poetry' }, { correlationId: 'req-1' });
    expect(reply).toEqual({ ok: true, result: { version: 1 } });
    await waitFor(async () => (await db.store.readStream('library/catalogue/s1')).length === 1, { what: 'the catalogue entry' });
    const [renamed] = await db.store.readStream('library/shelf/s1');
    const [entry] = await db.store.readStream('library/catalogue/s1');
    expect(entry!.metadata).toMatchObject({ correlationId: 'req-1', causationId: renamed!.id });
  });

  it('answers a refusal from the decider and a validation failure as typed errors', async () => {
    await client.send(RenameShelf, { shelfId: 's2', name: 'Maps' });
    expect(await client.send(RenameShelf, { shelfId: 's2', name: 'Maps' })).toEqual({
      ok: false,
      error: { code: ErrorCodes.IllegalState, message: 'the shelf is already called Maps', field: 'name' },
    });
    expect(await client.send(RenameShelf, { shelfId: 's2', name: '' })).toMatchObject({
      ok: false,
      error: { code: ErrorCodes.ValidationFailed, field: 'name' },
    });
  });

  it('counts commands and consumed events in /metrics', async () => {
    await waitFor(async () => (await (await fetch(url('/metrics'))).text()).includes('outcome="handled"'), { what: 'the consumer metric' });
    const text = await (await fetch(url('/metrics'))).text();
    expect(text).toMatch(/mycelium_command_duration_seconds_count\{service="library",command="cmd.library.shelf.rename",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/mycelium_command_duration_seconds_count\{service="library",command="cmd.library.shelf.rename",outcome="ILLEGAL_STATE"\} 1/);
    expect(text).toMatch(/mycelium_events_appended_total\{service="library"\} [1-9]/);
    // The process's own: the relay it runs, and the runtime.
    expect(text).toMatch(/^mycelium_relay_active 1$/m);
    expect(text).toMatch(/^mycelium_relay_events_published_total [1-9]/m);
    expect(text).toMatch(/^mycelium_process_resident_memory_bytes \d+/m);
  });
});
