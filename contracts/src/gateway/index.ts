export * from './api-key-issued.v1.js';
export * from './issue-api-key.command.js';
export * from './replica-circuit-opened.v1.js';
export * from './api-key-revoked.v1.js';
export * from './subscription-events.v1.js';
export * from './timeline.command.js';
export * from './projections.command.js';

import { ApiKeyIssued } from './api-key-issued.v1.js';
import { IssueApiKey } from './issue-api-key.command.js';
import { ReplicaCircuitOpened } from './replica-circuit-opened.v1.js';
import { ApiKeyRevoked, ListApiKeys, RevokeApiKey } from './api-key-revoked.v1.js';
import { GetTimeline } from './timeline.command.js';
import { ListProjections, RebuildProjection, ReplayProjections } from './projections.command.js';
import {
  SubscriptionCreated,
  SubscriptionDeleted,
  SubscriptionDelivered,
  SubscriptionDeliveryFailed,
  SubscriptionDisabled,
  SubscriptionEnabled,
} from './subscription-events.v1.js';

export const gatewayContracts = [
  ApiKeyIssued,
  ApiKeyRevoked,
  IssueApiKey,
  RevokeApiKey,
  ListApiKeys,
  ReplicaCircuitOpened,
  SubscriptionCreated,
  SubscriptionDelivered,
  SubscriptionDeliveryFailed,
  SubscriptionDisabled,
  SubscriptionEnabled,
  SubscriptionDeleted,
  GetTimeline,
  ListProjections,
  RebuildProjection,
  ReplayProjections,
];
