export { gridServices } from './grid-services.js';
export { gridFile, type RunningGrid, startGrid, type UpOptions } from './up/grid.js';
export { findNatsServer, NatsNotFoundError, provideNats } from './up/nats.js';
