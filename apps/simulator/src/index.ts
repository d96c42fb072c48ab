export { type FaultKind, Simulator, type SimulatorOptions, type SimulatorStats } from './simulator.js';
