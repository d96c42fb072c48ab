import { defineService } from '@mycelium/messaging';
import { BillingModule } from './billing.module.js';

export const billingService = defineService({ name: 'billing', module: BillingModule });
