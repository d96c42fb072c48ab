import { type ArgumentsHost, Catch, type RpcExceptionFilter } from '@nestjs/common';
import { BaseRpcContext, type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';
import { lastValueFrom, type Observable, throwError } from 'rxjs';
import { type ContractRegistry, subjectToken } from '@mycelium/contracts';
import type { EventMetadata, EventStore, EventStoreTransaction } from '@mycelium/eventstore';
import type { Logger, ServiceMetrics } from '@mycelium/telemetry';
import { type CommandMetadata, CommandServer, type ReceivedCommand } from './commands.js';
import { type DeliveredEvent, EventConsumer } from './consumer.js';
import type { Topology } from './topology.js';

/** The second argument of a `@MessagePattern` handler (`@Ctx()`). */
export class CommandContext extends BaseRpcContext<[ReceivedCommand]> {
  get command(): ReceivedCommand {
    return this.args[0];
  }
  get metadata(): CommandMetadata {
    return this.args[0].metadata;
  }
  /** Pass to every append the command causes. */
  get eventMetadata(): EventMetadata {
    return this.args[0].eventMetadata;
  }
}

/** The second argument of an `@EventPattern` handler (`@Ctx()`). */
export class EventContext extends BaseRpcContext<[DeliveredEvent]> {
  get delivery(): DeliveredEvent {
    return this.args[0];
  }
  get event(): DeliveredEvent['event'] {
    return this.args[0].event;
  }
  /** Append through this: the effects commit with the inbox entry, exactly once. */
  get tx(): EventStoreTransaction {
    return this.args[0].tx;
  }
  get eventMetadata(): EventMetadata {
    return this.args[0].metadata;
  }
}

/** Options an `@EventPattern(subject, extras)` handler may set. */
export interface EventPatternExtras {
  /** Durable consumer name; default `<service>-<subject>`. Renaming it starts a new consumer. */
  durable?: string;
  deliverPolicy?: 'all' | 'new';
  maxDeliveries?: number;
  /** Events handled at once, in order per aggregate (see ConsumerOptions.concurrency). */
  concurrency?: number;
}

export interface ConsumerTuning {
  maxDeliveries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface MyceliumTransportOptions {
  service: string;
  nc: NatsConnection;
  store: EventStore;
  registry: ContractRegistry;
  topology: Topology;
  logger: Logger;
  metrics?: ServiceMetrics;
  consumers?: ConsumerTuning;
}

/**
 * NestJS transport over NATS: `@MessagePattern('cmd.<service>.<command>')` handlers answer
 * request/reply commands, `@EventPattern('evt.<service>.<aggregate>.<event>')` handlers consume
 * JetStream through durable, idempotent consumers.
 */
export class MyceliumTransport extends Server implements CustomTransportStrategy {
  readonly #options: MyceliumTransportOptions;
  #commands: CommandServer | undefined;
  readonly #consumers: EventConsumer[] = [];

  constructor(options: MyceliumTransportOptions) {
    super();
    this.#options = options;
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      const { service, nc, store, registry, topology, logger, metrics, consumers } = this.#options;
      this.#commands = new CommandServer({ service, nc, registry, topology, logger, metrics });
      for (const [pattern, handler] of this.messageHandlers) {
        if (handler.isEventHandler) {
          const extras = (handler.extras ?? {}) as EventPatternExtras;
          const consumer = new EventConsumer({
            service,
            durable: extras.durable ?? `${service}-${subjectToken(pattern)}`,
            filter: pattern,
            deliverPolicy: extras.deliverPolicy,
            ...consumers,
            ...(extras.maxDeliveries ? { maxDeliveries: extras.maxDeliveries } : {}),
            ...(extras.concurrency ? { concurrency: extras.concurrency } : {}),
            nc,
            store,
            registry,
            topology,
            logger,
            metrics,
            handler: async (delivery) => {
              await this.#invoke(handler, delivery.payload, new EventContext([delivery]));
            },
          });
          await consumer.start();
          this.#consumers.push(consumer);
        } else {
          this.#commands.handle(pattern, (command) => this.#invoke(handler, command.payload, new CommandContext([command])));
        }
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /** Runs a handler (and any chained after it) through Nest's pipes, guards and filters. */
  async #invoke(handler: MessageHandler, payload: unknown, ctx: BaseRpcContext): Promise<unknown> {
    let result: unknown;
    for (let current: MessageHandler | undefined = handler; current; current = current.next as MessageHandler | undefined) {
      const output = await current(payload, ctx);
      result = await lastValueFrom(this.transformToObservable(output), { defaultValue: undefined });
    }
    return result;
  }

  async close(): Promise<void> {
    await this.#commands?.stop();
    await Promise.all(this.#consumers.map((consumer) => consumer.stop()));
  }

  on(): never {
    throw new Error('the Mycelium transport reports its state through /healthz, not events');
  }

  unwrap<T>(): T {
    return this.#options.nc as T;
  }
}

/**
 * Nest's default RPC filter replaces every error with "Internal server error". Hand the original
 * to the transport instead, which maps refusals to typed replies and failures to retries.
 */
@Catch()
export class PassErrorsToTransport implements RpcExceptionFilter {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
