import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  type Subscription,
  TimeoutError,
} from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import {
  type CommandDefinition,
  type CommandError,
  type CommandReply,
  CommandRejection,
  type ContractRegistry,
  ErrorCodes,
} from '@mycelium/contracts';
import { type EventMetadata, WrongExpectedVersionError } from '@mycelium/eventstore';
import { currentMessageContext, type Logger, type ServiceMetrics, withMessageContext } from '@mycelium/telemetry';
import { DeadLetters } from './dead-letters.js';
import { Headers } from './headers.js';
import type { Topology } from './topology.js';
import { extractTraceContext, injectTraceHeaders } from './trace-headers.js';

const tracer = trace.getTracer('@mycelium/messaging');
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Who sent a command and why; events the command causes carry these. */
export interface CommandMetadata {
  commandId: string;
  correlationId: string;
  tenant?: string;
}

export interface ReceivedCommand<Payload = object> {
  definition: CommandDefinition;
  payload: Payload;
  metadata: CommandMetadata;
  /** Metadata for the events this command appends. */
  eventMetadata: EventMetadata;
}

export type CommandHandler = (command: ReceivedCommand) => Promise<unknown>;

/**
 * Turns anything a handler threw into the typed error the caller gets. Refusals keep their code;
 * version conflicts become CONFLICT; anything else is INTERNAL, with details only in the log.
 */
export function toCommandError(error: unknown): CommandError {
  if (error instanceof CommandRejection) return error.toCommandError();
  if (error instanceof WrongExpectedVersionError) {
    return { code: ErrorCodes.Conflict, message: `${error.message}; retry the command` };
  }
  return { code: ErrorCodes.Internal, message: 'the service failed to handle the command; it has been logged, try again later' };
}

export interface CommandServerOptions {
  service: string;
  nc: NatsConnection;
  registry: ContractRegistry;
  topology: Topology;
  logger: Logger;
  metrics?: ServiceMetrics;
}

/**
 * Serves `cmd.<service>.<command>` over NATS request/reply. Every instance of a service joins one
 * queue group, so each command is handled once. Payloads are validated against the contract
 * before a handler sees them; every failure is answered with `{ ok: false, error }`.
 */
export class CommandServer {
  readonly #options: CommandServerOptions;
  readonly #deadLetters: DeadLetters;
  readonly #subscriptions: Subscription[] = [];
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: CommandServerOptions) {
    this.#options = options;
    this.#deadLetters = new DeadLetters(options.nc, options.topology, options.service, options.logger, options.metrics);
  }

  /** Handles commands on `subject` (a grid subject, e.g. `cmd.spores.nodes.query`). */
  handle(subject: string, handler: CommandHandler): void {
    const { nc, topology, registry, service } = this.#options;
    if (!registry.command(subject)) {
      throw new Error(`no contract for ${subject}: define it with defineCommand and register it with the service`);
    }
    const subscription = nc.subscribe(topology.subject(subject), {
      queue: service,
      callback: (error, msg) => {
        if (error) {
          this.#options.logger.error({ err: error, subject }, 'command subscription failed');
          return;
        }
        const work = this.#serve(subject, msg, handler)
          .catch((error: unknown) => this.#options.logger.error({ err: error, subject }, 'could not answer a command'))
          .finally(() => this.#inFlight.delete(work));
        this.#inFlight.add(work);
      },
    });
    this.#subscriptions.push(subscription);
  }

  /** Stops taking commands and waits for those being handled. */
  async stop(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const drained = Promise.all(this.#subscriptions.map((subscription) => subscription.drain().catch(() => undefined)));
    // Draining needs the server; when it is gone, stop listening without it.
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    for (const subscription of this.#subscriptions) if (!subscription.isClosed()) subscription.unsubscribe();
    await Promise.all(this.#inFlight);
  }

  async #serve(subject: string, msg: Msg, handler: CommandHandler): Promise<void> {
    const { registry, logger, metrics } = this.#options;
    const started = performance.now();
    const metadata: CommandMetadata = {
      commandId: uuidv7(),
      correlationId: msg.headers?.get(Headers.CorrelationId) || uuidv7(),
      ...(msg.headers?.get(Headers.Tenant) ? { tenant: msg.headers.get(Headers.Tenant) } : {}),
    };
    const span = tracer.startSpan(
      `command ${subject}`,
      { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'nats', 'mycelium.command': subject, 'mycelium.command_id': metadata.commandId } },
      extractTraceContext(msg.headers),
    );
    let reply: CommandReply;
    await context.with(trace.setSpan(context.active(), span), () =>
      withMessageContext({ correlationId: metadata.correlationId, causationId: metadata.commandId, tenant: metadata.tenant }, async () => {
        reply = await this.#decideReply(subject, msg, handler, metadata);
        if (!reply.ok && reply.error.code === ErrorCodes.Internal) logger.error({ subject }, 'command failed');
      }),
    );
    reply = reply!;
    const outcome = reply.ok ? 'ok' : reply.error.code;
    if (!reply.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: reply.error.message });
    span.setAttribute('mycelium.outcome', outcome);
    span.end();
    metrics?.commands.observe({ command: subject, outcome }, (performance.now() - started) / 1000);
    if (msg.reply) msg.respond(encodeReply(reply, subject, this.#options.logger));
  }

  async #decideReply(subject: string, msg: Msg, handler: CommandHandler, metadata: CommandMetadata): Promise<CommandReply> {
    const { registry, logger } = this.#options;
    let body: unknown;
    try {
      body = JSON.parse(decoder.decode(msg.data));
    } catch (error) {
      await this.#deadLetter(msg, 'unparseable', `command on ${subject} is not JSON: ${(error as Error).message}`);
      return { ok: false, error: { code: ErrorCodes.MalformedMessage, message: 'the command is not valid JSON; send a JSON object' } };
    }
    if (!msg.reply) {
      await this.#deadLetter(msg, 'no-reply', `command on ${subject} has no reply subject; send it as a request`);
      return { ok: false, error: { code: ErrorCodes.MalformedMessage, message: 'commands must be sent as requests' } };
    }
    let received: ReceivedCommand;
    try {
      const versionHeader = msg.headers?.get(Headers.CommandVersion);
      const version = versionHeader ? Number.parseInt(versionHeader, 10) : undefined;
      const decoded = registry.decodeCommand(subject, body, Number.isNaN(version) ? -1 : version)!;
      received = {
        definition: decoded.definition,
        payload: decoded.payload,
        metadata,
        eventMetadata: {
          correlationId: metadata.correlationId,
          causationId: metadata.commandId,
          ...(metadata.tenant ? { tenant: metadata.tenant } : {}),
        },
      };
    } catch (error) {
      return { ok: false, error: toCommandError(error) };
    }
    try {
      return { ok: true, result: (await handler(received)) ?? null };
    } catch (error) {
      const commandError = toCommandError(error);
      if (commandError.code === ErrorCodes.Internal) logger.error({ err: error, subject }, 'command handler threw');
      return { ok: false, error: commandError };
    }
  }

  async #deadLetter(msg: Msg, kind: string, reason: string): Promise<void> {
    await this.#deadLetters
      .send({ kind, reason, subject: msg.subject, data: msg.data, headers: msg.headers })
      .catch((error: unknown) => this.#options.logger.error({ err: error }, 'could not dead-letter a command'));
  }
}

/** The reply as JSON; a result that cannot be sent (a bigint, too large) becomes an INTERNAL error. */
function encodeReply(reply: CommandReply, subject: string, logger: Logger): Uint8Array {
  try {
    const bytes = encoder.encode(JSON.stringify(reply));
    if (bytes.length <= MAX_REPLY_BYTES) return bytes;
    throw new Error(`the reply is ${bytes.length} bytes, more than ${MAX_REPLY_BYTES}`);
  } catch (error) {
    logger.error({ err: error, subject }, 'command result cannot be sent');
    return encoder.encode(JSON.stringify({ ok: false, error: toCommandError(error) }));
  }
}

const MAX_REPLY_BYTES = 900 * 1024;

export interface SendOptions {
  timeoutMs?: number;
  correlationId?: string;
  tenant?: string;
  /** Send the payload as this version of the command (default: the newest). */
  version?: number;
}

/** Sends commands to the grid's services and returns their typed replies; it never throws for a refusal. */
export class CommandClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly topology: Topology,
  ) {}

  async send<Result>(command: CommandDefinition<object, Result>, payload: object, options: SendOptions = {}): Promise<CommandReply<Result>> {
    return this.sendRaw<Result>(command.subject, encoder.encode(JSON.stringify(payload)), {
      ...options,
      version: options.version ?? command.version,
    });
  }

  /** Sends bytes as they are: for tools and tests that speak to a subject without its contract. */
  async sendRaw<Result = unknown>(subject: string, data: Uint8Array, options: SendOptions = {}): Promise<CommandReply<Result>> {
    const headers = natsHeaders();
    const ambient = currentMessageContext();
    headers.set(Headers.CorrelationId, options.correlationId ?? ambient?.correlationId ?? uuidv7());
    const tenant = options.tenant ?? ambient?.tenant;
    if (tenant) headers.set(Headers.Tenant, tenant);
    if (options.version !== undefined) headers.set(Headers.CommandVersion, String(options.version));
    injectTraceHeaders(headers);
    const service = subject.split('.')[1] ?? subject;
    try {
      const msg = await this.nc.request(this.topology.subject(subject), data, { timeout: options.timeoutMs ?? 10_000, headers });
      return JSON.parse(decoder.decode(msg.data)) as CommandReply<Result>;
    } catch (error) {
      if (error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders())) {
        return {
          ok: false,
          error: { code: ErrorCodes.ServiceUnavailable, message: `no ${service} service is running to take ${subject}; start it and retry` },
        };
      }
      if (error instanceof TimeoutError) {
        return {
          ok: false,
          error: { code: ErrorCodes.Timeout, message: `${service} did not answer ${subject} in time; it may be overloaded, retry` },
        };
      }
      throw error;
    }
  }
}
