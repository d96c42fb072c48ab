import { instanceLifecycle, type InstanceLifecycleContracts } from './platform/instance-lifecycle.v1.js';
import { ContractRegistry, type ContractDefinition } from './registry.js';
import { gatewayContracts } from './gateway/index.js';
import { sporesContracts } from './spores/index.js';
import { billingContracts } from './billing/index.js';
import { deploymentContracts } from './deployment/index.js';
import { healingContracts } from './healing/index.js';
import { consensusContracts } from './consensus/index.js';

/** The six services of the grid's control plane. */
export const GRID_SERVICES = ['spores', 'consensus', 'storage', 'deployment', 'billing', 'healing'] as const;
export type GridService = (typeof GRID_SERVICES)[number];

export const lifecycleOf: Record<GridService, InstanceLifecycleContracts> = Object.fromEntries(
  GRID_SERVICES.map((service) => [service, instanceLifecycle(service)]),
) as Record<GridService, InstanceLifecycleContracts>;

/** Every contract of the grid's services, in one list. */
export const gridContracts: ContractDefinition[] = [
  ...GRID_SERVICES.flatMap((service) => [lifecycleOf[service].started, lifecycleOf[service].stopped]),
  ...sporesContracts,
  ...gatewayContracts,
  ...deploymentContracts,
  ...billingContracts,
  ...healingContracts,
  ...consensusContracts,
];

export function gridRegistry(): ContractRegistry {
  return new ContractRegistry(gridContracts);
}
