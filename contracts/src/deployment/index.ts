export * from './workload-protocol.js';
export * from './list-routes.command.js';
export * from './suspend-app.command.js';
export * from './app-spec.js';
export * from './app-events.v1.js';
export * from './app-commands.js';
export * from './node-commands.js';

import { appCommands } from './app-commands.js';
import { appEvents } from './app-events.v1.js';
import { ListRoutes } from './list-routes.command.js';
import { EvacuateNode, RetireReplica } from './node-commands.js';
import { SuspendApp } from './suspend-app.command.js';
import { stateAtOf } from '../platform/state-at.command.js';

/** Every contract of the deployment service. */
export const deploymentContracts = [stateAtOf.deployment, ...appEvents, ...appCommands, ListRoutes, SuspendApp, EvacuateNode, RetireReplica];
