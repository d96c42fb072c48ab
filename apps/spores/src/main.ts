import { runServiceProcess } from '@mycelium/messaging';
import { sporesService } from './spores.service.js';

await runServiceProcess(sporesService);
