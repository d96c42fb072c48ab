import { billingContracts } from '@mycelium/contracts';
import { defineService } from '@mycelium/messaging';
import type { BillingConfig } from './billing.config.js';
import { BillingModule } from './billing.module.js';

/** The billing service, configured from the environment. */
export const billingService = defineService({ name: 'billing', module: BillingModule.forRoot(), contracts: billingContracts });

/** The billing service with explicit configuration (tests, tools). */
export function configuredBillingService(config: BillingConfig) {
  return defineService({ name: 'billing', module: BillingModule.forRoot(config), contracts: billingContracts });
}
