import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { type StateAt, stateAtOf, type StateAtV1 } from '@mycelium/contracts';
import type { EventStore } from '@mycelium/eventstore';
import { EVENT_STORE, OnCommand, stateAt } from '@mycelium/messaging';
import { ACCOUNT_STREAM_PREFIX } from '../accounts/accounts.js';
import { BILLING_CONFIG, type BillingConfig } from '../billing.config.js';
import { type AccountEvent, availableOf, evolveAccount, initialAccountState, reservedOf } from '../domain/account/account.js';

/** The accounts as they were at any moment of the log: balance, reserved, what was metered. */
@Controller()
export class StateHandlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BILLING_CONFIG) private readonly config: BillingConfig,
  ) {}

  @OnCommand(stateAtOf.billing)
  async at(@Payload() request: StateAtV1): Promise<StateAt> {
    return stateAt(this.store, 'billing', request, {
      streamPrefix: ACCOUNT_STREAM_PREFIX,
      view: (events) => {
        const state = (events as unknown as AccountEvent[]).reduce(evolveAccount, initialAccountState());
        return { tenant: state.tenant, balance: availableOf(state), reserved: reservedOf(state), currency: this.config.currency, meters: Object.keys(state.meters).length, entries: state.entryCount };
      },
    });
  }
}
