import { runServiceProcess } from '@mycelium/messaging';
import { notifierService } from './notifier.js';

await runServiceProcess(notifierService);
