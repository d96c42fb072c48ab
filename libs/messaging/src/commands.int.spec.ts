import { IsInt, IsString, Length, Min } from 'class-validator';
import { CommandRejection, ContractRegistry, defineCommand, ErrorCodes } from '@mycelium/contracts';
import { openTestBus, type TestBus, waitFor } from '@mycelium/testing';
import { createLogger } from '@mycelium/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandClient, CommandServer, type ReceivedCommand } from './commands.js';
import { Headers } from './headers.js';

class ReserveSeatsV1 {
  @IsString()
  @Length(1, 40)
  showId!: string;

  @IsInt()
  @Min(1)
  seats!: number;
}

const ReserveSeats = defineCommand<ReserveSeatsV1, { reservationId: string }>({
  service: 'box-office',
  name: 'seats.reserve',
  payload: ReserveSeatsV1,
  description: 'Reserves seats for a show.',
});

const logger = createLogger({ name: 'commands-test', level: 'silent' });
const encoder = new TextEncoder();

describe('commands over NATS', () => {
  let bus: TestBus;
  let client: CommandClient;
  const servers: CommandServer[] = [];

  const serve = (handler: (command: ReceivedCommand) => Promise<unknown>) => {
    const server = new CommandServer({
      service: 'box-office',
      nc: bus.nc,
      registry: new ContractRegistry([ReserveSeats]),
      topology: bus.topology,
      logger,
    });
    server.handle(ReserveSeats.subject, handler);
    servers.push(server);
    return server;
  };

  beforeEach(async () => {
    bus = await openTestBus();
    client = new CommandClient(bus.nc, bus.topology);
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await bus.dispose();
  });

  it('answers a valid command with the handler’s result and passes correlation and tenant', async () => {
    let received: ReceivedCommand | undefined;
    serve(async (command) => {
      received = command;
      return { reservationId: `r-${(command.payload as ReserveSeatsV1).seats}` };
    });
    const reply = await client.send(ReserveSeats, { showId: 'hamlet', seats: 2 }, { correlationId: 'corr-9', tenant: 'acme' });
    expect(reply).toEqual({ ok: true, result: { reservationId: 'r-2' } });
    expect(received!.payload).toBeInstanceOf(ReserveSeatsV1);
    expect(received!.metadata).toMatchObject({ correlationId: 'corr-9', tenant: 'acme' });
    expect(received!.eventMetadata).toEqual({ correlationId: 'corr-9', causationId: received!.metadata.commandId, tenant: 'acme' });
  });

  it('refuses an invalid payload with VALIDATION_FAILED naming the field, without calling the handler', async () => {
    let calls = 0;
    serve(async () => {
      calls += 1;
    });
    const reply = await client.send(ReserveSeats, { showId: 'hamlet', seats: 0 });
    expect(reply).toMatchObject({ ok: false, error: { code: ErrorCodes.ValidationFailed, field: 'seats', message: 'seats must not be less than 1' } });
    const typo = await client.send(ReserveSeats, { showId: 'hamlet', seats: 1, seets: 1 });
    expect(typo).toMatchObject({ ok: false, error: { code: ErrorCodes.ValidationFailed, field: 'seets' } });
    expect(calls).toBe(0);
  });

  it('answers garbage with MALFORMED_MESSAGE and keeps it in the dead-letter stream', async () => {
    serve(async () => ({}));
    const reply = await client.sendRaw(ReserveSeats.subject, encoder.encode('{"showId": '));
    expect(reply).toMatchObject({ ok: false, error: { code: ErrorCodes.MalformedMessage } });
    await waitFor(async () => (await bus.stored(bus.topology.deadLetterStream)).length === 1, { what: 'the dead letter' });
    const [letter] = await bus.stored(bus.topology.deadLetterStream);
    expect(letter!.headers?.get(Headers.DeadLetterReason)).toMatch(/is not JSON/);
    expect(new TextDecoder().decode(letter!.data)).toBe('{"showId": ');
  });

  it('passes a refusal’s code, message and field to the caller', async () => {
    serve(async () => {
      throw new CommandRejection({ code: 'SOLD_OUT', message: 'hamlet is sold out; pick another show', field: 'showId' });
    });
    expect(await client.send(ReserveSeats, { showId: 'hamlet', seats: 1 })).toEqual({
      ok: false,
      error: { code: 'SOLD_OUT', message: 'hamlet is sold out; pick another show', field: 'showId' },
    });
  });

  it('hides the details of an unexpected failure behind INTERNAL, and the server keeps serving', async () => {
    let fail = true;
    serve(async () => {
      if (fail) throw new Error('secret connection string in here');
      return { reservationId: 'r-ok' };
    });
    const reply = await client.send(ReserveSeats, { showId: 'hamlet', seats: 1 });
    expect(reply).toMatchObject({ ok: false, error: { code: ErrorCodes.Internal } });
    expect(JSON.stringify(reply)).not.toContain('secret');
    fail = false;
    expect(await client.send(ReserveSeats, { showId: 'hamlet', seats: 1 })).toEqual({ ok: true, result: { reservationId: 'r-ok' } });
  });

  it('says so when no instance of the service is running', async () => {
    const reply = await client.send(ReserveSeats, { showId: 'hamlet', seats: 1 });
    expect(reply).toMatchObject({ ok: false, error: { code: ErrorCodes.ServiceUnavailable } });
    expect(!reply.ok && reply.error.message).toMatch(/no box-office service is running/);
  });

  it('hands each command to exactly one of several instances', async () => {
    const handledBy: number[] = [];
    serve(async () => void handledBy.push(1));
    serve(async () => void handledBy.push(2));
    for (let i = 0; i < 20; i += 1) expect((await client.send(ReserveSeats, { showId: 'x', seats: 1 })).ok).toBe(true);
    expect(handledBy).toHaveLength(20);
  });

  it('refuses to serve a subject without a contract', () => {
    const server = new CommandServer({ service: 'box-office', nc: bus.nc, registry: new ContractRegistry(), topology: bus.topology, logger });
    expect(() => server.handle('cmd.box-office.seats.cancel', async () => undefined)).toThrow(/no contract/);
  });
});
