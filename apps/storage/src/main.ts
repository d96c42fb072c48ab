import { runServiceProcess } from '@mycelium/messaging';
import { storageService } from './storage.service.js';

await runServiceProcess(storageService);
