import { EventPattern, MessagePattern } from '@nestjs/microservices';
import type { CommandDefinition, EventDefinition } from '@mycelium/contracts';
import type { CommandContext, EventContext, EventPatternExtras } from './transport.js';

type Handler<Payload, Context> = (payload: Payload, ctx: Context) => unknown;
type TypedMethodDecorator<Payload, Context> = <Method extends Handler<Payload, Context>>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<Method>,
) => void;

/**
 * `@MessagePattern` for a command contract: the handler answers `cmd.<service>.<command>` and its
 * payload type is the contract's.
 */
export function OnCommand<Payload extends object>(command: CommandDefinition<Payload>): TypedMethodDecorator<Payload, CommandContext> {
  return MessagePattern(command.subject) as TypedMethodDecorator<Payload, CommandContext>;
}

/** `@EventPattern` for an event contract: every version of the event, upcast to this one. */
export function OnEvent<Payload extends object>(
  event: EventDefinition<Payload>,
  extras: EventPatternExtras = {},
): TypedMethodDecorator<Payload, EventContext> {
  return EventPattern<string>(event.subject, extras) as TypedMethodDecorator<Payload, EventContext>;
}

/** `@EventPattern` for a subject filter such as `evt.spores.>`: payloads are those of whatever arrives. */
export function OnEvents(filter: string, extras: EventPatternExtras = {}): TypedMethodDecorator<unknown, EventContext> {
  return EventPattern<string>(filter, extras) as TypedMethodDecorator<unknown, EventContext>;
}
