import { runServiceProcess } from '@mycelium/messaging';
import { billingService } from './billing.service.js';

await runServiceProcess(billingService);
