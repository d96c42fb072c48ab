import { billingService } from '@mycelium/billing';
import { consensusService } from '@mycelium/consensus';
import { deploymentService } from '@mycelium/deployment';
import { gatewayService } from '@mycelium/gateway';
import { healingService } from '@mycelium/healing';
import type { ServiceDefinition } from '@mycelium/messaging';
import { sporesService } from '@mycelium/spores';
import { storageService } from '@mycelium/storage';

/** The control plane's services, in the order they start, then the gateway in front of them. */
export const gridServices: ServiceDefinition[] = [
  sporesService,
  consensusService,
  storageService,
  deploymentService,
  billingService,
  healingService,
  gatewayService,
];
