import { type DynamicModule, Module } from '@nestjs/common';
import { Accounts } from './accounts/accounts.js';
import { BILLING_CONFIG, type BillingConfig, billingConfigFromEnv } from './billing.config.js';
import { AccountHandlers } from './handlers/account.handlers.js';
import { MeterHandlers } from './handlers/meter.handlers.js';
import { StateHandlers } from './handlers/state.handlers.js';
import { ReservationHandlers } from './handlers/reservation.handlers.js';
import { Leadership } from './metering/leadership.js';
import { MeteringLoop } from './metering/metering-loop.js';
import { PriceSources } from './prices/price-sources.js';

/** Credits: accounts, the double-entry ledger, reservations, the TFT price oracle and metering. */
@Module({})
export class BillingModule {
  /** With `config`, or read from the environment when the service starts. */
  static forRoot(config?: BillingConfig): DynamicModule {
    return {
      module: BillingModule,
      controllers: [AccountHandlers, ReservationHandlers, MeterHandlers, StateHandlers],
      providers: [
        config ? { provide: BILLING_CONFIG, useValue: config } : { provide: BILLING_CONFIG, useFactory: () => billingConfigFromEnv() },
        Accounts,
        PriceSources,
        Leadership,
        MeteringLoop,
      ],
    };
  }
}
