import 'reflect-metadata';
import { type ClassConstructor, plainToInstance } from 'class-transformer';
import { type ValidationError, validateSync } from 'class-validator';
import { ContractViolation } from './errors.js';
import { commandSubject, eventType, isNameToken } from './naming.js';

/** Turns the payload of the previous version into this version's payload (plain JSON in, out). */
export type Upcaster = (previous: Record<string, unknown>) => Record<string, unknown>;

export interface EventDefinition<Payload extends object = object> {
  readonly kind: 'event';
  readonly service: string;
  readonly aggregate: string;
  /** Past tense, kebab-case: `app-deployed`. */
  readonly name: string;
  readonly version: number;
  /** `mycelium.<service>.<name>.v<version>` */
  readonly type: string;
  /** `evt.<service>.<aggregate>.<name>`: the NATS subject every version of this event is published on. */
  readonly subject: string;
  readonly payload: ClassConstructor<Payload>;
  readonly description: string;
  /** How a payload of `version - 1` becomes this version's. */
  readonly upcast?: Upcaster;
}

export interface CommandDefinition<Payload extends object = object, Result = unknown> {
  readonly kind: 'command';
  readonly service: string;
  /** Imperative, dot-grouped, kebab-case: `nodes.query`, `app.deploy`. */
  readonly name: string;
  readonly version: number;
  /** `cmd.<service>.<name>` */
  readonly subject: string;
  readonly payload: ClassConstructor<Payload>;
  readonly description: string;
  readonly upcast?: Upcaster;
  /** Only carries the result type; results are described in prose in `description`. */
  readonly result?: Result;
}

export type ContractDefinition = EventDefinition | CommandDefinition;

/** An event definition whose type and subject are known to the compiler, so unions of events discriminate. */
export type TypedEventDefinition<
  Payload extends object,
  Service extends string,
  Aggregate extends string,
  Name extends string,
  Version extends number,
> = EventDefinition<Payload> & {
  readonly type: `mycelium.${Service}.${Name}.v${Version}`;
  readonly subject: `evt.${Service}.${Aggregate}.${Name}`;
};

export function defineEvent<
  Payload extends object,
  const Service extends string,
  const Aggregate extends string,
  const Name extends string,
  const Version extends number,
>(spec: {
  service: Service;
  aggregate: Aggregate;
  name: Name;
  version: Version;
  payload: ClassConstructor<Payload>;
  description: string;
  upcast?: Upcaster;
}): TypedEventDefinition<Payload, Service, Aggregate, Name, Version> {
  for (const [part, value] of Object.entries({ service: spec.service, aggregate: spec.aggregate, name: spec.name })) {
    if (!isNameToken(value)) throw new Error(`event ${part} ${JSON.stringify(value)} must be kebab-case`);
  }
  checkVersion(spec.version, spec.upcast, `event ${spec.name}`);
  return {
    kind: 'event',
    ...spec,
    type: eventType(spec.service, spec.name, spec.version) as `mycelium.${Service}.${Name}.v${Version}`,
    subject: `evt.${spec.service}.${spec.aggregate}.${spec.name}` as const,
  };
}

export function defineCommand<Payload extends object, Result = unknown>(spec: {
  service: string;
  name: string;
  version?: number;
  payload: ClassConstructor<Payload>;
  description: string;
  upcast?: Upcaster;
}): CommandDefinition<Payload, Result> {
  if (!isNameToken(spec.service) || !spec.name.split('.').every(isNameToken)) {
    throw new Error(`command ${spec.service}/${spec.name} must be kebab-case tokens separated by dots`);
  }
  const version = spec.version ?? 1;
  checkVersion(version, spec.upcast, `command ${spec.name}`);
  return { kind: 'command', ...spec, version, subject: commandSubject(spec.service, spec.name) };
}

function checkVersion(version: number, upcast: Upcaster | undefined, what: string): void {
  if (!Number.isInteger(version) || version < 1) throw new Error(`${what}: version must be a positive integer`);
  if (version > 1 && !upcast) throw new Error(`${what} v${version} needs an upcast from v${version - 1}`);
}

export interface DecodedEvent<Payload extends object = object> {
  definition: EventDefinition<Payload>;
  payload: Payload;
  /** The version the event was written with, before upcasting. */
  writtenVersion: number;
}

/**
 * All the contracts a process knows. Old event versions stay readable forever: they are upcast,
 * one version at a time, to the newest version before they are validated and handled.
 */
export class ContractRegistry {
  readonly #events = new Map<string, EventDefinition>();
  readonly #latestEvents = new Map<string, EventDefinition>();
  readonly #commands = new Map<string, CommandDefinition[]>();
  readonly #payloadNames = new Map<string, ContractDefinition>();

  constructor(definitions: Iterable<ContractDefinition> = []) {
    this.register(...definitions);
  }

  register(...definitions: ContractDefinition[]): this {
    for (const definition of definitions) {
      // JSON Schemas are keyed by class name, so two contracts may not share one.
      const owner = this.#payloadNames.get(definition.payload.name);
      if (owner && owner !== definition && owner.payload !== definition.payload) {
        throw new Error(`payload class name ${definition.payload.name} is used by two contracts`);
      }
      this.#payloadNames.set(definition.payload.name, definition);
      if (definition.kind === 'event') this.#registerEvent(definition);
      else this.#registerCommand(definition);
    }
    return this;
  }

  #registerEvent(definition: EventDefinition): void {
    const existing = this.#events.get(definition.type);
    if (existing === definition) return;
    if (existing) throw new Error(`event type ${definition.type} is defined twice`);
    this.#events.set(definition.type, definition);
    const family = `${definition.service}.${definition.name}`;
    const latest = this.#latestEvents.get(family);
    if (!latest || latest.version < definition.version) this.#latestEvents.set(family, definition);
  }

  #registerCommand(definition: CommandDefinition): void {
    const versions = this.#commands.get(definition.subject) ?? [];
    if (versions.includes(definition)) return;
    if (versions.some((known) => known.version === definition.version)) {
      throw new Error(`command ${definition.subject} v${definition.version} is defined twice`);
    }
    versions.push(definition);
    versions.sort((a, b) => a.version - b.version);
    this.#commands.set(definition.subject, versions);
  }

  events(): EventDefinition[] {
    return [...this.#events.values()];
  }

  commands(): CommandDefinition[] {
    return [...this.#commands.values()].flat();
  }

  event(type: string): EventDefinition | undefined {
    return this.#events.get(type);
  }

  /** The newest version of the command on `subject`. */
  command(subject: string): CommandDefinition | undefined {
    return this.#commands.get(subject)?.at(-1);
  }

  /**
   * Upcasts `data` of event `type` to the newest version and validates it. Undefined when the type
   * is not registered here; a ContractViolation naming the field when the payload is invalid.
   */
  decodeEvent(type: string, data: unknown): DecodedEvent | undefined {
    const written = this.#events.get(type);
    if (!written) return undefined;
    let current = written;
    let value = data;
    for (;;) {
      const next = this.#events.get(eventType(current.service, current.name, current.version + 1));
      if (!next?.upcast) break;
      value = next.upcast(asRecord(value, 'data'));
      current = next;
    }
    return { definition: current, payload: validatePayload(current.payload, value, { forbidUnknown: false }), writtenVersion: written.version };
  }

  /**
   * Validates a command for `subject`, sent as `version` (default: the newest), upcast to the newest.
   * Unknown fields are refused: in a command they are almost always a typo.
   */
  decodeCommand(subject: string, data: unknown, version?: number): { definition: CommandDefinition; payload: object } | undefined {
    const versions = this.#commands.get(subject);
    if (!versions) return undefined;
    const newest = versions.at(-1)!;
    const sent = version === undefined ? newest : versions.find((definition) => definition.version === version);
    if (!sent) {
      throw new ContractViolation(`${subject} has no version ${version}; the newest is ${newest.version}`, 'version');
    }
    let value = data;
    for (const definition of versions) {
      if (definition.version > sent.version && definition.upcast) value = definition.upcast(asRecord(value, 'payload'));
    }
    return { definition: newest, payload: validatePayload(newest.payload, value, { forbidUnknown: true }) };
  }
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ContractViolation(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Builds the payload class from plain JSON and checks every rule on it. */
export function validatePayload<Payload extends object>(
  payloadClass: ClassConstructor<Payload>,
  data: unknown,
  { forbidUnknown }: { forbidUnknown: boolean },
): Payload {
  const instance = plainToInstance(payloadClass, asRecord(data, 'payload'));
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: forbidUnknown,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  if (errors.length > 0) {
    const violations = flatten(errors);
    const first = violations[0]!;
    throw new ContractViolation(first.message, first.field, { violations });
  }
  return instance;
}

function flatten(errors: ValidationError[], parent = ''): { field: string; message: string }[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      // class-validator names the property by its own name; say where it is.
      message: parent ? message.replace(new RegExp(`^${error.property}\\b`), field) : message,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}
