import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type StateAt, stateAtOf, type StateAtV1 } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, OnCommand, stateAt } from '@mycelium/messaging';
import { ROUND_STREAM_PREFIX, TRUST_STREAM_PREFIX } from '../directory/consensus-directory.js';
import { evolveRound, type RoundEvent, type RoundState } from '../domain/round/round.js';
import { evolveTrust, type TrustEvent } from '../domain/trust/trust.js';
import { viewOf } from './rounds.handlers.js';

/** Rounds and trust scores as they were at any moment of the log, as `round.get` shows a round now. */
@Controller()
export class StateHandlers {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @OnCommand(stateAtOf.consensus)
  async at(@Payload() request: StateAtV1): Promise<StateAt> {
    return stateAt(
      this.store,
      'consensus',
      request,
      {
        streamPrefix: ROUND_STREAM_PREFIX,
        view: (events) => {
          const round = (events as unknown as RoundEvent[]).reduce<RoundState>(evolveRound, undefined);
          return round && viewOf(round);
        },
      },
      { streamPrefix: TRUST_STREAM_PREFIX, view: (events) => (events as unknown as TrustEvent[]).reduce(evolveTrust, { trust: undefined, changes: 0 }) },
    );
  }
}
