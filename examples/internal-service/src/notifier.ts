import { Controller, Module } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { IsIn, IsString } from 'class-validator';
import {
  CommandRejection,
  defineCommand,
  defineEvent,
  ErrorCodes,
  GRID_SERVICES,
  type InstanceStartedV1,
  type InstanceStoppedV1,
  lifecycleOf,
} from '@mycelium/contracts';
import { type Decider, handleCommand, type EventStore } from '@mycelium/eventstore';
import { type CommandContext, defineService, type EventContext, InjectEventStore, OnCommand, OnEvents } from '@mycelium/messaging';

/**
 * The notifier tells operators when instances of the grid's services start and stop, unless
 * they muted a service. It owns its contracts and streams (`notifier/...`) and only learns of
 * the grid through events.
 */

// 1. Its own contracts: one command, two events.
export class MuteServiceV1 {
  @IsIn(GRID_SERVICES)
  service!: string;
}

export class ServiceMutedV1 {
  @IsIn(GRID_SERVICES)
  service!: string;
}

export class NotificationQueuedV1 {
  @IsString()
  about!: string;

  @IsString()
  text!: string;
}

export const MuteService = defineCommand<MuteServiceV1, { muted: string }>({
  service: 'notifier',
  name: 'service.mute',
  payload: MuteServiceV1,
  description: 'Stops notifications about one service.',
});
export const ServiceMuted = defineEvent({
  service: 'notifier',
  aggregate: 'mute',
  name: 'service-muted',
  version: 1,
  payload: ServiceMutedV1,
  description: 'Operators no longer hear about this service.',
});
export const NotificationQueued = defineEvent({
  service: 'notifier',
  aggregate: 'feed',
  name: 'notification-queued',
  version: 1,
  payload: NotificationQueuedV1,
  description: 'A notification for operators.',
});

// 2. The mute decider: pure.
type MuteEvent = { type: typeof ServiceMuted.type; data: ServiceMutedV1 };
export const mute: Decider<MuteServiceV1, MuteEvent, { muted: boolean }> = {
  initialState: () => ({ muted: false }),
  evolve: () => ({ muted: true }),
  decide: (command, state) => {
    if (state.muted) {
      throw new CommandRejection({ code: ErrorCodes.IllegalState, message: `${command.service} is already muted`, field: 'service' });
    }
    return [{ type: ServiceMuted.type, data: { service: command.service } }];
  },
};

const lifecycleTypes = new Set(GRID_SERVICES.flatMap((s) => [lifecycleOf[s].started.type, lifecycleOf[s].stopped.type]));

// 3. Thin handlers: a command and a consumer of the grid's events.
@Controller()
class NotifierHandlers {
  constructor(@InjectEventStore() private readonly store: EventStore) {}

  @OnCommand(MuteService)
  async mute(@Payload() command: MuteServiceV1, @Ctx() ctx: CommandContext): Promise<{ muted: string }> {
    await handleCommand(this.store, `notifier/mute/${command.service}`, mute, command, { metadata: ctx.eventMetadata });
    return { muted: command.service };
  }

  @OnEvents('evt.*.instance.>', { durable: 'notifier-instances' })
  async notify(@Payload() payload: unknown, @Ctx() ctx: EventContext): Promise<void> {
    const { event, tx } = ctx;
    if (!lifecycleTypes.has(event.type)) return;
    const service = event.source.replace('mycelium/', '');
    if ((await tx.readStream(`notifier/mute/${service}`)).length > 0) return;
    const text = event.type.endsWith('instance-started.v1')
      ? `${service} instance ${(payload as InstanceStartedV1).instanceId} started on ${(payload as InstanceStartedV1).host}`
      : `${service} instance ${(payload as InstanceStoppedV1).instanceId} stopped (${(payload as InstanceStoppedV1).reason})`;
    await tx.append(`notifier/feed/${service}`, [{ type: NotificationQueued.type, data: { about: event.id, text }, metadata: ctx.eventMetadata }]);
  }
}

@Module({ controllers: [NotifierHandlers] })
class NotifierModule {}

// 4. The service: a name, its module, its contracts.
export const notifierService = defineService({
  name: 'notifier',
  module: NotifierModule,
  contracts: [MuteService, ServiceMuted, NotificationQueued],
});
