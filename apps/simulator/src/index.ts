export { type FaultKind, Simulator, type SimulatorOptions, type SimulatorStats } from './simulator.js';
export { ReplicaEndpoint } from './replica-endpoint.js';
export { VirtualWorkloads, type VirtualWorkloadsOptions } from './virtual-workloads.js';
