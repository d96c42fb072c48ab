import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { IsString } from 'class-validator';
import { ContractRegistry, defineCommand } from '@mycelium/contracts';
import { openPostgresTestStore, openTestBus, type TestBus, type TestStore, waitFor } from '@mycelium/testing';
import { createLogger, startTracing } from '@mycelium/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandClient, CommandServer } from './commands.js';
import { EventConsumer } from './consumer.js';
import { Relay } from './relay.js';

class PingV1 {
  @IsString()
  text!: string;
}
const Ping = defineCommand({ service: 'echo', name: 'ping', payload: PingV1, description: 'Records a ping.' });

describe('tracing across NATS', () => {
  const exporter = new InMemorySpanExporter();
  const logger = createLogger({ name: 'tracing-test', level: 'silent' });
  let stopTracing: () => Promise<void>;
  let db: TestStore;
  let bus: TestBus;
  let relay: Relay;
  let server: CommandServer;
  let consumer: EventConsumer;
  let handled = 0;

  beforeAll(async () => {
    stopTracing = startTracing({ serviceName: 'tracing-test', exporter });
    db = await openPostgresTestStore();
    bus = await openTestBus();
    const registry = new ContractRegistry([Ping]);
    relay = new Relay({ store: db.store, nc: bus.nc, topology: bus.topology, logger });
    relay.start();
    server = new CommandServer({ service: 'echo', nc: bus.nc, registry, topology: bus.topology, logger });
    server.handle(Ping.subject, async (command) => {
      await db.store.append('echo/ping/1', [{ type: 'mycelium.echo.pinged.v1', data: command.payload, metadata: command.eventMetadata }]);
    });
    consumer = new EventConsumer({
      service: 'listener',
      durable: 'listener-pings',
      filter: 'evt.echo.>',
      nc: bus.nc,
      store: db.store,
      registry,
      topology: bus.topology,
      logger,
      handler: async () => {
        handled += 1;
      },
    });
    await consumer.start();
  });
  afterAll(async () => {
    await consumer?.stop();
    await server?.stop();
    await relay?.stop();
    await bus?.dispose();
    await db?.dispose();
    await stopTracing?.();
  });

  it('keeps one trace from the command through the append and the relay to the consumer', async () => {
    const client = new CommandClient(bus.nc, bus.topology);
    const traceId = await trace.getTracer('test').startActiveSpan('user request', async (span) => {
      expect((await client.send(Ping, { text: 'hello' })).ok).toBe(true);
      span.end();
      return span.spanContext().traceId;
    });
    await waitFor(() => handled === 1, { what: 'the consumer' });
    await waitFor(() => exporter.getFinishedSpans().some((span) => span.name.startsWith('consume ')), { what: 'the consume span' });

    const spans = exporter.getFinishedSpans();
    const named = (prefix: string) => spans.find((span) => span.name.startsWith(prefix));
    for (const name of ['command ', 'eventstore.append', 'publish ', 'consume ']) {
      expect(named(name), name).toBeDefined();
      expect(named(name)!.spanContext().traceId, name).toBe(traceId);
    }
    const [event] = await db.store.readStream('echo/ping/1');
    expect(event!.metadata.traceparent).toContain(traceId);
  });
});
