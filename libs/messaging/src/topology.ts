import { commandSubject, deadLetterSubject, eventSubject, subjectToken } from '@mycelium/contracts';

/**
 * Where things live on NATS. A namespace prefixes every subject and stream name, so several grids
 * (or test runs) can share one NATS server without seeing each other; production uses none.
 */
export class Topology {
  readonly namespace: string;

  constructor(namespace = '') {
    if (namespace && !/^[a-zA-Z0-9_-]+$/.test(namespace)) {
      throw new Error(`namespace ${JSON.stringify(namespace)} may only hold letters, digits, '-' and '_'`);
    }
    this.namespace = namespace;
  }

  /** Prefixes a grid subject (or wildcard pattern) with the namespace. */
  subject(subject: string): string {
    return this.namespace ? `${this.namespace}.${subject}` : subject;
  }

  /** The grid subject of a namespaced one. */
  unprefixed(subject: string): string {
    return this.namespace && subject.startsWith(`${this.namespace}.`) ? subject.slice(this.namespace.length + 1) : subject;
  }

  get eventsStream(): string {
    return this.#streamName('MYCELIUM_EVENTS');
  }

  get deadLetterStream(): string {
    return this.#streamName('MYCELIUM_DLQ');
  }

  eventSubject(stream: string, type: string): string {
    return this.subject(eventSubject(stream, type));
  }

  commandSubject(service: string, name: string): string {
    return this.subject(commandSubject(service, name));
  }

  deadLetterSubject(service: string): string {
    return this.subject(deadLetterSubject(service));
  }

  /** A JetStream consumer name for this namespace. */
  durableName(name: string): string {
    return subjectToken(this.namespace ? `${this.namespace}_${name}` : name);
  }

  #streamName(base: string): string {
    return this.namespace ? `${this.namespace.toUpperCase().replace(/-/g, '_')}_${base}` : base;
  }
}
