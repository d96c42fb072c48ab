export * from './workload-protocol.js';
export * from './list-routes.command.js';
export * from './suspend-app.command.js';

import { ListRoutes } from './list-routes.command.js';
import { SuspendApp } from './suspend-app.command.js';

/** Every contract of the deployment service. */
export const deploymentContracts = [ListRoutes, SuspendApp];
