import { runServiceProcess } from '@mycelium/messaging';
import { gatewayService } from './gateway.service.js';

await runServiceProcess(gatewayService);
