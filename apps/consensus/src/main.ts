import { runServiceProcess } from '@mycelium/messaging';
import { consensusService } from './consensus.service.js';

await runServiceProcess(consensusService);
