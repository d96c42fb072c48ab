import { runServiceProcess } from '@mycelium/messaging';
import { deploymentService } from './deployment.service.js';

await runServiceProcess(deploymentService);
