import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type StateAt, stateAtOf, type StateAtV1 } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, OnCommand, stateAt } from '@mycelium/messaging';
import { APP_STREAM_PREFIX } from '../directory/app-directory.js';
import { type AppEvent, foldApp, viewOf } from '../domain/app.js';

/** The apps as they were at any moment of the log, as `app.get` shows one now. */
@Controller()
export class StateHandlers {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @OnCommand(stateAtOf.deployment)
  async at(@Payload() request: StateAtV1): Promise<StateAt> {
    return stateAt(this.store, 'deployment', request, {
      streamPrefix: APP_STREAM_PREFIX,
      view: (events) => {
        const app = foldApp(events as unknown as AppEvent[]);
        return app && viewOf(app);
      },
    });
  }
}
