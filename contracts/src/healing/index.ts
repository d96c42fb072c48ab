export * from './incident-events.v1.js';
export * from './webhook-events.v1.js';
export * from './healing-commands.js';

import { healingCommands } from './healing-commands.js';
import { incidentEvents } from './incident-events.v1.js';
import { webhookEvents } from './webhook-events.v1.js';
import { stateAtOf } from '../platform/state-at.command.js';

/** Every contract of the healing service. */
export const healingContracts = [stateAtOf.healing, ...incidentEvents, ...webhookEvents, ...healingCommands];
