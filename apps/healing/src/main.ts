import { runServiceProcess } from '@mycelium/messaging';
import { healingService } from './healing.service.js';

await runServiceProcess(healingService);
