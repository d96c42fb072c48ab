import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The Prometheus metrics of one service. Each service has its own registry, so several services
 * hosted in one process still report separately.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly eventsAppended: Counter<never>;
  readonly eventsConsumed: Counter<'consumer' | 'outcome'>;
  readonly deadLettered: Counter<'reason'>;
  readonly commands: Histogram<'command' | 'outcome'>;

  /** A counter of this service's own, created once however often its module starts. */
  counter<Label extends string>(name: string, help: string, labelNames: Label[] = []): Counter<Label> {
    return (this.registry.getSingleMetric(name) as Counter<Label> | undefined) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A gauge of this service's own, created once however often its module starts. */
  gauge(name: string, help: string): Gauge<never> {
    return (this.registry.getSingleMetric(name) as Gauge<never> | undefined) ?? new Gauge({ name, help, registers: [this.registry] });
  }

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    const registers = [this.registry];
    this.eventsAppended = new Counter({
      name: 'mycelium_events_appended_total',
      help: 'Events this service appended to the event store.',
      registers,
    });
    this.eventsConsumed = new Counter({
      name: 'mycelium_events_consumed_total',
      help: 'Events delivered to a consumer, by outcome (handled, duplicate, retried, dead-lettered).',
      labelNames: ['consumer', 'outcome'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'mycelium_dead_letters_total',
      help: 'Messages sent to the dead-letter subject, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.commands = new Histogram({
      name: 'mycelium_command_duration_seconds',
      help: 'Time to handle a command, by command and outcome (ok or the error code).',
      labelNames: ['command', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }
}

/** What a relay reports. */
export interface RelayMetrics {
  readonly eventsPublished: Counter<never>;
  readonly relayActive: Gauge<never>;
  readonly relayPosition: Gauge<never>;
}

/**
 * Metrics of the process rather than of one service: CPU, memory, the event loop, and the relay
 * it may run. Every service of the process serves them beside its own.
 */
export class ProcessMetrics implements RelayMetrics {
  readonly registry = new Registry();
  readonly eventsPublished: Counter<never>;
  readonly relayActive: Gauge<never>;
  readonly relayPosition: Gauge<never>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mycelium_' });
    const registers = [this.registry];
    this.eventsPublished = new Counter({
      name: 'mycelium_relay_events_published_total',
      help: 'Events the relay of this process published to JetStream and saw acknowledged.',
      registers,
    });
    this.relayActive = new Gauge({
      name: 'mycelium_relay_active',
      help: '1 while this process holds the relay lease and publishes events.',
      registers,
    });
    this.relayPosition = new Gauge({
      name: 'mycelium_relay_position',
      help: 'Log position of the last event the relay saw acknowledged (low 53 bits).',
      registers,
    });
  }
}

/** One Prometheus exposition of several registries whose metric names do not overlap. */
export async function exposition(...registries: Registry[]): Promise<string> {
  return (await Promise.all(registries.map((registry) => registry.metrics()))).join('\n');
}
