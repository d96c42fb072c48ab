export { BillingModule } from './billing.module.js';
export { billingService, configuredBillingService } from './billing.service.js';
export { type BillingConfig, billingConfigFromEnv, DEFAULT_CURRENCY, DEFAULT_PRICE_SOURCES } from './billing.config.js';
export { DEFAULT_RATE_CARD, type RateCard } from './domain/pricing.js';
