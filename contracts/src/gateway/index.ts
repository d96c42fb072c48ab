export * from './api-key-issued.v1.js';
export * from './issue-api-key.command.js';
export * from './replica-circuit-opened.v1.js';

import { ApiKeyIssued } from './api-key-issued.v1.js';
import { IssueApiKey } from './issue-api-key.command.js';
import { ReplicaCircuitOpened } from './replica-circuit-opened.v1.js';

export const gatewayContracts = [ApiKeyIssued, IssueApiKey, ReplicaCircuitOpened];
